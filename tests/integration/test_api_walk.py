"""The README's "Using the API" walk, run exactly as written against a real stack, so it stays true.

Every ```sh block of that section is run in order, in one bash with `set -euo pipefail`, with the services'
addresses and the health authority's token in the variables the first block reads. A command that fails (curl
`-f` on a 4xx/5xx, a `jq -e` that does not hold) fails the test; the loops that wait for the tracer and the
safety map are bounded by the test's timeout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from antoan_localstack import stack
from antoan_localstack.testing import RunningServices

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Using the API"


def walk_blocks(readme: str) -> list[str]:
    """The shell blocks of the README's walk, in order."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end >= 0 else None]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)


def test_the_walk_covers_every_role() -> None:
    script = "\n".join(walk_blocks(README.read_text("utf-8")))
    for step in (
        "/v1/venues",  # a venue owner registers
        "poster.pdf",
        "/v1/checkins",  # a citizen's app
        "/v1/checkins/batch",  # an offline upload
        "person_qr",  # a venue's scanner
        "/v1/declarations",
        "/v1/cases",  # the health authority
        "/contacts",
        "/v1/persons/search",
        "/clearance",
        "/visits",  # the venue owner's history
        "/self-assessment",
        "agency_subscriber.py",  # an agency
    ):
        assert step in script, f"the walk lost its {step} step"


@pytest.mark.integration
def test_the_readme_walk_runs_against_a_real_stack(running_services: RunningServices, tmp_path: Path) -> None:
    for tool, package in (("curl", "curl"), ("jq", "jq"), ("bash", "bash")):
        stack._require_tool(tool, [package])
    script = "set -euo pipefail\nset -x\n" + "\n".join(walk_blocks(README.read_text("utf-8")))
    env = {
        **os.environ,
        "INGEST": running_services.ingest,
        "TRACER": running_services.tracer,
        "MAP": running_services.safety_map,
        "HA_TOKEN": running_services.ha_token,
        # The agency's subscriber: this Python (kafka-python is installed), the test's broker and namespace
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "KAFKA_BOOTSTRAP": running_services.servers.kafka_bootstrap,
        "ANTOAN_TOPIC_NAMESPACE": running_services.namespace,
    }
    (tmp_path / "examples").symlink_to(README.parent / "examples")  # the walk runs from the repository's root
    try:
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the walk did not finish in {exc.timeout} s; it was at:\n{_tail(exc.stderr)}")
    assert done.returncode == 0, f"the walk stopped (exit {done.returncode}):\n{_tail(done.stderr)}\n{done.stdout}"

    # What the walk left in its directory is what a person following it would have.
    assert (tmp_path / "poster.pdf").read_bytes().startswith(b"%PDF")
    contacts = (tmp_path / "contacts.csv").read_text("utf-8-sig").splitlines()
    assert len(contacts) == 1 + 2, contacts  # a header and the two F1s: the offline uploader and the scanned guest
    visits = (tmp_path / "visits.csv").read_text("utf-8-sig").splitlines()
    assert len(visits) >= 1 + 2, visits  # the case's visit and the offline one, at least, in the last 24 hours
    assert "Cà phê Hạc Thành" in visits[1]


def _tail(text: str | bytes | None, lines: int = 40) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-lines:])
