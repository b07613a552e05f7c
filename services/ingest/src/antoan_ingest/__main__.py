"""`python -m antoan_ingest`: serve the ingest API, in `INGEST_WORKERS` processes (one per core by default;
`antoan_ingest.workers` says how they share the port)."""

from __future__ import annotations

from antoan_ingest.settings import get_settings
from antoan_ingest.workers import supervise
from antoan_shared.processes import process_count
from antoan_shared.web import serve


def main() -> None:
    settings = get_settings()
    workers = process_count(settings.workers)
    if workers == 1:
        from antoan_ingest.app import create_app  # the supervisor of several workers serves nothing itself

        serve(create_app(settings), "ingest", settings)
    else:
        supervise(settings, workers)


if __name__ == "__main__":
    main()
