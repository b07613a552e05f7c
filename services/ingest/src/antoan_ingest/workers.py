"""ingest as `INGEST_WORKERS` processes (one per core by default).

Each process listens on the port through a socket of its own (`SO_REUSEPORT`), so the kernel spreads new
connections across the processes evenly; with one shared listening socket, whichever process woke first took
the connection, and kept-alive clients piled onto one process while the other idled. A process listens only
once its venue directory is loaded, so the kernel never hands a connection to one that is still loading.
Each process has its own producer, venue directory and public-venue relay member, and dies with the
supervisor; the supervisor starts a dead one again. What a process keeps in memory is its own: the rate limits
count per process, as they count per instance behind a load balancer. Venues written through one process are
visible to the others at once (`adapters.recent_venues`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

from antoan_ingest.settings import IngestSettings, get_settings
from antoan_shared.logs import configure_logging
from antoan_shared.processes import die_with
from antoan_shared.web import uvicorn_options

log = logging.getLogger(__name__)

# uvicorn's exit code for a worker that failed before it served (its app or its socket is broken): starting it
# again would fail the same way.
STARTUP_FAILURE = 3


def own_socket(host: str, port: int) -> socket.socket:
    """A socket bound to the shared port beside the other processes' (`SO_REUSEPORT`), not yet listening:
    uvicorn listens on it once the app has started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve_worker(parent_pid: int) -> None:
    """One worker process: the app on a socket of its own."""
    import uvicorn

    from antoan_ingest.app import create_app  # here, not in the supervisor, which serves nothing

    die_with(parent_pid)
    settings = get_settings()
    configure_logging("ingest", settings.log_level)
    try:
        sock = own_socket(settings.host, settings.port)
    except OSError:
        log.exception("cannot bind the port", extra={"port": settings.port})
        raise SystemExit(STARTUP_FAILURE) from None
    server = uvicorn.Server(uvicorn.Config(create_app(settings), **uvicorn_options(settings)))
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def supervise(settings: IngestSettings, workers: int) -> None:
    """Start `workers` processes, start again one that dies, stop them all on SIGTERM or SIGINT."""
    configure_logging("ingest", settings.log_level)
    # Each process writes its metrics here and /metrics, answered by any, sums them (prometheus_client's
    # multiprocess mode; the processes read this variable when they start).
    remove_stale_metrics_dirs(Path(tempfile.gettempdir()))
    metrics_dir = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        failed = _run_workers(workers)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)  # the workers' metric files: nothing reads them after
    if failed:
        raise SystemExit(1)


METRICS_PREFIX = "antoan-ingest-metrics-"


def remove_stale_metrics_dirs(parent: Path) -> None:
    """Remove the metrics directories whose supervisor is gone: one stopped by SIGKILL (a crash, a test, the
    kernel's OOM killer) could not remove its own. Each directory's name carries its supervisor's pid."""
    for path in parent.glob(f"{METRICS_PREFIX}*-*"):
        pid = path.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)  # another user's stays: not ours to remove


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: alive, another user's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _run_workers(workers: int) -> bool:
    """The workers until SIGTERM or SIGINT; True if one could not start."""
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> BaseProcess:
        process = spawn.Process(target=serve_worker, args=(os.getpid(),), name="ingest-worker")
        process.start()
        return process

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    processes = [start() for _ in range(workers)]
    log.info("ingest workers started", extra={"workers": workers, "pids": [p.pid for p in processes]})
    failed = False
    while not stopping.wait(0.5):
        for index, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("an ingest worker could not start; stopping", extra={"pid": process.pid})
                failed = True
                stopping.set()
                break
            log.warning(
                "an ingest worker died; starting another", extra={"pid": process.pid, "exitcode": process.exitcode}
            )
            processes[index] = start()
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    return failed
