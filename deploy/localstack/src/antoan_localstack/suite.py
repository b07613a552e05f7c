"""The whole test suite as `make test` runs it: the test modules spread over parallel pytest workers that
share one Kafka broker and one Redis, then the scan of every topic the run wrote.

1. Kafka and Redis: `KAFKA_BOOTSTRAP` and `REDIS_URL` when both are given, else a private local stack
   started here and stopped at the end (what a lone pytest session does for itself).
2. Every test module but the scan, with pytest-xdist. `--dist loadfile` keeps a module, and the services
   it starts, on one worker. The fault tests bring their own broker and Redis, as they do under plain pytest.
3. `tests/integration/test_zz_no_raw_identifiers.py` on its own: it reads every topic of every namespace
   the workers made (each process lists its namespaces in a file of the run), so it runs after them all.

Plain `pytest` still runs everything in one process, the scan last.

    python -m antoan_localstack.suite [--workers N] [more pytest arguments for step 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from antoan_localstack import stack
from antoan_localstack.testing import NAMESPACES_FILE_VAR, private_stack

SCAN = "tests/integration/test_zz_no_raw_identifiers.py"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m antoan_localstack.suite", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--workers",
        default=os.environ.get("TEST_WORKERS", "2"),
        help="pytest-xdist workers for step 2: a number, or 'auto' for one per core (default: $TEST_WORKERS or 2)",
    )
    args, pytest_args = parser.parse_known_args(argv)
    pytest = [sys.executable, "-m", "pytest"]
    env = dict(os.environ)
    with contextlib.ExitStack() as cleanup:
        if not (env.get("KAFKA_BOOTSTRAP") and env.get("REDIS_URL")):
            print("Starting a private Kafka and Redis for this run, shared by its test workers.", flush=True)
            servers = cleanup.enter_context(private_stack())
            env |= {"KAFKA_BOOTSTRAP": servers.kafka_bootstrap, "REDIS_URL": servers.redis_url}
        run_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="antoan-test-run-")))
        env[NAMESPACES_FILE_VAR] = str(run_dir / "namespaces")

        # The 25 slowest steps are listed at the end: what to look at when the suite's time grows.
        parallel = [*pytest, "-n", args.workers, "--dist", "loadfile", "--durations", "25", "--ignore", SCAN]
        parallel += pytest_args
        first = subprocess.run(parallel, cwd=stack.repo_root(), env=env, check=False).returncode
        print(f"\nThen the scan of every topic the run wrote ({SCAN}):", flush=True)
        second = subprocess.run([*pytest, SCAN], cwd=stack.repo_root(), env=env, check=False).returncode
    return first or second


if __name__ == "__main__":
    raise SystemExit(main())
