"""``python -m antoan_localstack``."""

from antoan_localstack.cli import main

raise SystemExit(main())
