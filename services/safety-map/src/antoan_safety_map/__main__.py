"""`python -m antoan_safety_map`: serve the safety map."""

from __future__ import annotations

from antoan_safety_map.app import create_app
from antoan_safety_map.settings import get_settings
from antoan_shared.web import serve


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), "safety-map", settings)


if __name__ == "__main__":
    main()
