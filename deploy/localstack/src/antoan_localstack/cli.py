"""``python -m antoan_localstack {infra-up,up,down,status,demo}``: the local stack from the command line."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from antoan_localstack import simulate, stack
from antoan_localstack.secrets import ensure_local_secrets, secrets_file

log = logging.getLogger("antoan_localstack")

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """``time level logger message key=value …``: the ``extra`` fields of a record, appended."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = [
            f"{key}={value}" if " " not in str(value) else f'{key}="{value}"'
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        ]
        return f"{base} {' '.join(extras)}" if extras else base


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # kafka-python and httpx narrate every connection; keep them for -v.
    for noisy in ("kafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _bring_up(cfg: stack.StackConfig) -> dict[str, str]:
    secrets = ensure_local_secrets()
    stack.start_infra(cfg, secrets)
    stack.wait_redis_ready(cfg)
    stack.wait_kafka_ready(cfg, secrets=secrets)
    stack.apply_kafka_acls(cfg, secrets, os.environ.get("ANTOAN_TOPIC_NAMESPACE", ""))
    stack.start_services(cfg, secrets)
    stack.wait_services_ready(cfg)
    stack.start_gateway(cfg)
    stack.wait_gateway_ready(cfg)
    return secrets


def _print_addresses(cfg: stack.StackConfig) -> None:
    rows = [
        # Everything people use is at one address; the services' own ports are for their docs and metrics.
        ("public address", f"{cfg.public_url}/"),
        ("safety map", f"{cfg.public_url}/map"),
        ("ingest API docs", f"{cfg.service_url('ingest')}/docs"),
        ("tracer API docs", f"{cfg.service_url('tracer')}/docs"),
        ("map API docs", f"{cfg.service_url('safety-map')}/docs"),
        ("Kafka bootstrap", cfg.kafka_bootstrap),
        ("Redis", cfg.redis_url),
        ("secrets file", str(secrets_file())),
        ("logs", str(cfg.logs_dir)),
    ]
    print("Antoan is up:")
    for label, value in rows:
        print(f"  {label:<16} {value}")


def cmd_infra_up(cfg: stack.StackConfig, _: argparse.Namespace) -> int:
    secrets = ensure_local_secrets()
    stack.start_infra(cfg, secrets)
    stack.wait_redis_ready(cfg)
    stack.wait_kafka_ready(cfg, secrets=secrets)
    stack.apply_kafka_acls(cfg, secrets, os.environ.get("ANTOAN_TOPIC_NAMESPACE", ""))
    print(f"Kafka {cfg.kafka_bootstrap} and Redis {cfg.redis_url} are ready (logs in {cfg.logs_dir}).")
    return 0


def cmd_up(cfg: stack.StackConfig, _: argparse.Namespace) -> int:
    _bring_up(cfg)
    _print_addresses(cfg)
    print("Stop it with `make down` (python -m antoan_localstack down).")
    return 0


def cmd_down(cfg: stack.StackConfig, _: argparse.Namespace) -> int:
    stack.stop_all(cfg)
    left = [name for name, pid in stack.running(cfg).items() if pid is not None]
    if left:
        print(f"Still running: {', '.join(left)}", file=sys.stderr)
        return 1
    print("Antoan stopped.")
    return 0


def cmd_status(cfg: stack.StackConfig, _: argparse.Namespace) -> int:
    procs = stack.running(cfg)
    addresses = {
        stack.KAFKA: cfg.kafka_bootstrap,
        stack.REDIS: cfg.redis_url,
        **{name: f"{cfg.service_url(name)}/" for name in stack.SERVICE_NAMES},
        stack.GATEWAY: f"{cfg.public_url}/",
    }
    for name in (stack.GATEWAY, stack.KAFKA, stack.REDIS, *stack.SERVICE_NAMES):
        pid = procs[name]
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"  {name:<11} {state:<22} {addresses[name]}")
    if not any(procs.values()):
        print("Nothing is running: `make up` starts the stack in the background, `make demo` in the foreground.")
    # A report, not a check: nothing running is a state like any other (readiness is each service's /readyz).
    return 0


def _watch(cfg: stack.StackConfig, stop: threading.Event, failed: list[str], every: float = 2.0) -> None:
    """Stop the demo if a component of the stack goes away underneath it."""
    while not stop.wait(every):
        gone = [name for name, pid in stack.running(cfg).items() if pid is None]
        if gone:
            failed.extend(gone)
            log.error(
                "part of the stack stopped; ending the demo",
                extra={"stopped": ", ".join(gone), "logs": str(cfg.logs_dir)},
            )
            stop.set()


def cmd_demo(cfg: stack.StackConfig, args: argparse.Namespace) -> int:
    stop = threading.Event()
    failed: list[str] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Explicit, since a shell may start us with SIGINT ignored (e.g. in the background).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    code = 0
    try:
        secrets = _bring_up(cfg)
        _print_addresses(cfg)
        print("Simulating Thanh Hóa; press Ctrl-C to stop everything.")
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        threading.Thread(target=_watch, args=(cfg, stop, failed), name="watch-stack", daemon=True).start()
        simulate.run(
            cfg.service_url("ingest"),
            stop=stop,
            rate=args.rate,
            venues=args.venues,
            people=args.people,
            seed=args.seed,
            duration=args.duration,
            safety_map_url=cfg.service_url("safety-map"),
            ha_token=secrets.get("ANTOAN_HA_TOKEN"),
        )
        code = 1 if failed else 0
    except KeyboardInterrupt:
        pass
    except BaseException:
        code = 1
        raise
    finally:
        stop.set()
        with stack.uninterrupted(lambda: print("still stopping, please wait…", file=sys.stderr)):
            print("Stopping Antoan…", file=sys.stderr)
            stack.stop_all(cfg)
            print("Antoan stopped." if code == 0 else "Antoan stopped after an error.", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m antoan_localstack", description=__doc__)
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="processes, logs and data (default $ANTOAN_STATE_DIR or .run)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("infra-up", help="start Kafka and Redis, return when ready").set_defaults(func=cmd_infra_up)
    sub.add_parser("up", help="start everything in the background, return when ready").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)
    demo = sub.add_parser("demo", help="start everything and simulate a province until Ctrl-C")
    demo.add_argument("--rate", type=float, default=20.0, help="check-ins per second (default 20)")
    demo.add_argument("--venues", type=int, default=400)
    demo.add_argument("--people", type=int, default=100_000)
    demo.add_argument("--seed", type=int, default=38)
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        cfg = stack.StackConfig.from_env(args.state_dir)
        code: int = args.func(cfg, args)
    except stack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.command in ("up", "infra-up"):
            print("Logs are in the state directory's logs/; `make down` stops what did start.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
