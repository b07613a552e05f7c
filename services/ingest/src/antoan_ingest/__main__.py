"""`python -m antoan_ingest`: serve the ingest API."""

from __future__ import annotations

from antoan_ingest.app import create_app
from antoan_ingest.settings import get_settings
from antoan_shared.web import serve


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), "ingest", settings)


if __name__ == "__main__":
    main()
