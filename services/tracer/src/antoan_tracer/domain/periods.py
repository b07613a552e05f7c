"""The period a read asks for (`?from=…&to=…`), as clients really write it.

An RFC 3339 timestamp carries its offset, and Vietnam's is `+07:00`. In a query string an unencoded `+` means a
space, so `?from=2026-12-02T00:00:00+07:00` arrives as `2026-12-02T00:00:00 07:00`. No timestamp has a space
before two-digit hours and minutes at its end, so that space can only have been the offset's `+`: it is read as
one. Left out, `to` is now and `from` the 24 hours before it (or the retention period, if shorter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from antoan_tracer.domain.times import EPOCH

DEFAULT_SPAN = timedelta(hours=24)
# Nothing the tracer keeps is older than the epoch; both bounds keep arithmetic on an instant (a visit's
# lookback, a change of offset) inside datetime's range.
EARLIEST = EPOCH
LATEST = datetime(9999, 1, 1, tzinfo=UTC)

EXPECTED_FORMAT = (
    "RFC 3339 with a time zone, e.g. 2026-12-02T00:00:00+07:00 or 2026-12-01T17:00:00Z (in a URL, write the + as %2B)"
)

# A date, a time (seconds optional, any fraction), then `Z` or a signed `hh:mm` offset; or, where the `+` of
# the offset arrived as a space, the offset after that space.
_TIMESTAMP = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2}|(?P<unencoded> )\d{2}:\d{2})",
    re.ASCII,
)


class InvalidPeriodError(ValueError):
    """A `from`/`to` that cannot be read or does not make a period; the message says what is expected."""


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def parse_instant(text: str, name: str = "the timestamp") -> datetime:
    """An RFC 3339 timestamp with its time zone; a space in place of the offset's `+` is read as the `+`."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise InvalidPeriodError(f"{name} is not a timestamp: give it as {EXPECTED_FORMAT}")
    zone = "+" + match["zone"][1:] if match["unencoded"] else match["zone"].upper()
    try:
        instant = datetime.fromisoformat(match["local"].upper() + zone)
    except ValueError:
        raise InvalidPeriodError(f"{name} is not a valid date and time: give it as {EXPECTED_FORMAT}") from None
    if not EARLIEST <= instant < LATEST:
        raise InvalidPeriodError(f"{name} must lie between 1970-01-01T00:00:00Z and 9999-01-01T00:00:00Z")
    return instant


def requested_period(start: str | None, end: str | None, now: datetime, longest: timedelta) -> Period:
    """The period of `from` and `to` as given: `to` defaults to `now`, `from` to DEFAULT_SPAN before `to`
    (or `longest` before it, if shorter). `longest` is the most a period may cover: the retention period."""
    until = parse_instant(end, "to") if end is not None else now
    since = parse_instant(start, "from") if start is not None else until - min(DEFAULT_SPAN, longest)
    if since > until:
        raise InvalidPeriodError("from must not be after to" + (" (now, when to is left out)" if end is None else ""))
    if until - since > longest:
        raise InvalidPeriodError(f"from and to may be at most {_days(longest)} apart: the retention period")
    return Period(since, until)


def _days(span: timedelta) -> str:
    if span % timedelta(days=1):
        return f"{span.total_seconds():g} seconds"
    return f"{span.days} days"
