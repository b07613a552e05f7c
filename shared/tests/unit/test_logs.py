from __future__ import annotations

import json
import logging

from antoan_shared.logs import JsonFormatter


def test_a_log_line_is_one_json_object_with_its_extra_fields() -> None:
    record = logging.makeLogRecord({"msg": "topic %s created", "args": ("x",), "levelname": "INFO", "partitions": 6})
    line = JsonFormatter("ingest").format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["msg"] == "topic x created"
    assert entry["service"] == "ingest"
    assert entry["partitions"] == 6
