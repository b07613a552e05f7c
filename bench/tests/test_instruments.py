"""The benchmark's instruments without a stack: the load generator's results read with latency counted from
when each request was due, py-spy's samples summed by package and function, and a stop that a second Ctrl-C
does not cut short."""

from __future__ import annotations

import signal

import pytest

from antoan_bench import infra
from antoan_bench.loadgen import read_results
from antoan_bench.profiling import package_of, parse

START = "start_unix_ns 1796383200000000000"


def _result(seq: int, sent_ms: float, done_ms: float, status: int = 202, error: str = "-") -> str:
    return f"{seq} {int(sent_ms * 1e6)} {int(done_ms * 1e6)} {status} {error}"


def test_latency_counts_from_when_a_request_was_due_not_when_it_was_sent() -> None:
    # Given 10 requests/s, where the generator sent the third 400 ms late (it was stalled) and each took 10 ms
    lines = [
        START,
        _result(0, 0, 10),
        _result(1, 100, 110),
        _result(2, 600, 610),
        _result(3, 300, 310, status=503),
        _result(4, -1e-6, 420, status=0, error="refused"),
    ]
    # When read
    attack = read_results(lines, rate=10)
    # Then the late one counts its 400 ms of waiting, as a client would have waited
    assert attack.latency_ms == pytest.approx([10, 10, 410], abs=0.01)
    assert attack.service_ms == pytest.approx([10, 10, 10])
    assert (attack.sent, attack.accepted, attack.failed) == (5, 3, 2)
    assert attack.statuses == {"202": 3, "503": 1, "refused": 1}
    assert attack.seconds == pytest.approx(0.61, abs=1e-6)
    assert attack.answered_at[0] == pytest.approx(1796383200.010)


def test_requests_with_no_result_are_counted_as_unsent() -> None:
    # Given 6 requests meant to go at 10/s, of which the generator sent 4 before it stopped
    lines = [START, *(_result(n, n * 100, n * 100 + 10) for n in range(4))]
    # When read
    attack = read_results(lines, rate=10, intended=6)
    # Then the two it never sent are reported, not silently dropped
    assert (attack.sent, attack.unsent, attack.accepted) == (4, 2, 4)
    assert read_results([], rate=10, intended=6).unsent == 6


def test_samples_are_summed_by_package_and_function() -> None:
    raw = "\n".join(
        [
            'process 7:"python -m antoan_ingest";serve (/x/site-packages/uvicorn/server.py:1);'
            "produce (/x/site-packages/confluent_kafka/cimpl.py:9) 6",
            'process 7:"python -m antoan_ingest";record (/w/services/ingest/src/antoan_ingest/checkins.py:107) 3',
            'process 8:"python -m antoan_ingest";run (/usr/lib/python3.11/asyncio/events.py:80) 1',
            'process 9:"java" 5',
        ]
    )
    profile = parse(raw, "ingest").summary()
    assert profile["samples"] == 10
    assert profile["by_package_pct"] == [["confluent_kafka", 60.0], ["antoan_ingest", 30.0], ["stdlib:asyncio", 10.0]]
    assert profile["by_function_pct"][0] == ["produce (confluent_kafka)", 60.0]
    assert package_of("/a/dist-packages/redis/client.py") == "redis"


def test_a_second_interrupt_while_the_stack_stops_does_not_cut_the_stop_short() -> None:
    # Given the benchmark stopping what it started
    stopped = []
    before = signal.getsignal(signal.SIGINT)
    with infra.uninterrupted():
        # When Ctrl-C (SIGINT) and a SIGTERM arrive meanwhile
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
        stopped.append("kafka")
    # Then the stop went on to its end, and the handlers are back as they were
    assert stopped == ["kafka"]
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
