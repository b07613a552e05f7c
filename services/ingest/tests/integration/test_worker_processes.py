"""ingest as several processes on one port (INGEST_WORKERS): one service to its clients, and no orphans."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from antoan_localstack import stack
from antoan_localstack.testing import RunningServices, restart_services, wait_for
from antoan_shared.processes import process_count

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]  # noqa: SIM115
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    return {"INGEST_WORKERS": "2"}


def test_the_default_is_one_process_per_core() -> None:
    assert process_count(0) == (os.cpu_count() or 1)
    assert process_count(3) == 3


def test_a_venue_written_through_one_process_is_known_to_every_other_at_once(
    running_services: RunningServices,
) -> None:
    ingest = running_services.ingest
    parent = stack.running(running_services.config)["ingest"]
    assert parent is not None
    assert len(_children(parent)) >= 2  # the workers (and multiprocessing's resource tracker)
    for n in range(5):
        # Given a venue just registered, When its key and its poster are used at once on new connections (each
        # may reach either process, whose follower may not have read the registration yet)
        created = httpx.post(f"{ingest}/v1/venues", json={"name": f"Tiệm {n}", "category": "shop", "capacity": 9})
        assert created.status_code == 201, created.text
        venue, key = created.json(), created.json()["api_key"]
        owner = {"authorization": f"Bearer {key}"}
        answers = [
            httpx.patch(f"{ingest}/v1/venues/{venue['venue_id']}", json={"capacity": 10 + i}, headers=owner)
            for i in range(4)
        ]
        scans = [
            httpx.post(
                f"{ingest}/v1/checkins", json={"venue_qr": venue["qr"], "person_id": f"09170000{n}{i}", "app": "ncovi"}
            )
            for i in range(4)
        ]
        # Then every process knows it
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        assert [s.status_code for s in scans] == [202] * 4, [s.text for s in scans]
    # And /metrics, answered by either, counts the check-ins of both
    metrics = httpx.get(f"{ingest}/metrics").text
    [accepted] = [line for line in metrics.splitlines() if line.startswith("antoan_ingest_checkins_accepted_total{")]
    assert float(accepted.rsplit(" ", 1)[1]) >= 20


def _listening_sockets(pid: int, port: int) -> set[int]:
    """The inodes of the listening TCP sockets on `port` that process `pid` holds."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    listening.add(int(fields[9]))
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(int(target[8:-1]))
    return held & listening


def test_each_process_listens_on_a_socket_of_its_own(running_services: RunningServices) -> None:
    # One listening socket shared by the processes let kept-alive clients pile onto whichever process woke
    # first; with a socket each (SO_REUSEPORT) the kernel spreads new connections across them.
    parent = stack.running(running_services.config)["ingest"]
    assert parent is not None
    port = int(running_services.config.ingest_port)
    owned = {pid: _listening_sockets(pid, port) for pid in _children(parent)}
    workers = {pid: inodes for pid, inodes in owned.items() if inodes}
    assert len(workers) == 2, owned
    first, second = workers.values()
    assert len(first) == len(second) == 1 and not first & second, workers
    assert not _listening_sockets(parent, port)


def _metrics_dir(pid: int) -> str:
    with open(f"/proc/{pid}/environ", "rb") as environ:
        variables = dict(v.split(b"=", 1) for v in environ.read().split(b"\0") if b"=" in v)
    return variables[b"PROMETHEUS_MULTIPROC_DIR"].decode()


def test_a_stop_removes_the_workers_metric_files(running_services: RunningServices) -> None:
    parent = stack.running(running_services.config)["ingest"]
    assert parent is not None
    workers = [pid for pid in _children(parent) if _listening_sockets(pid, int(running_services.config.ingest_port))]
    metrics = _metrics_dir(workers[0])
    assert os.path.isdir(metrics) and os.listdir(metrics)  # each worker's counters, summed by /metrics
    # When ingest is stopped as `make down` stops it
    stack.stop_components(running_services.config, ["ingest"])
    # Then its temporary directory goes with it (it was left behind at every stop, one per start)
    assert not os.path.exists(metrics)
    restart_services(running_services)
    assert httpx.get(f"{running_services.ingest}/readyz").status_code == 200


def test_the_workers_die_with_their_parent(running_services: RunningServices) -> None:
    parent = stack.running(running_services.config)["ingest"]
    assert parent is not None
    workers = _children(parent)
    assert len(workers) >= 2
    # When the parent alone is killed, as a crash would
    os.kill(parent, signal.SIGKILL)
    # Then its workers go too, and the port is let go for the next start
    wait_for(lambda: not any(map(_alive, workers)), timeout=15, what="the workers to die with their parent")
    wait_for(lambda: not stack.port_in_use(int(running_services.config.ingest_port)), timeout=15, what="the port")
    restart_services(running_services)
    assert httpx.get(f"{running_services.ingest}/readyz").status_code == 200
