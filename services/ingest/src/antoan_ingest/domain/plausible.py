"""Plausible times: every moment and day a client gives is checked before it is published.

Issue 12's finding: a case tested on 0001-01-01 was accepted and crashed the tracer's arithmetic. What the
API takes now: a moment at most the clock skew ahead of the server and at most `PAST` behind it (nothing
Antoan records is about more than a year ago; a check-in's own bound, the retention period, is tighter);
a travel or arrival day within a year of today, either way (a declaration may announce a trip); a birth
date between 1900 and today.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

PAST = timedelta(days=366)
DAYS_AHEAD = timedelta(days=366)
EARLIEST_BIRTH = date(1900, 1, 1)


class ImplausibleTimeError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_moment(name: str, moment: datetime | None, now: datetime, max_skew: timedelta) -> None:
    if moment is None:
        return
    if moment > now + max_skew:
        raise ImplausibleTimeError(f"{name}_in_future", f"{name} is in the future")
    if moment < now - PAST:
        raise ImplausibleTimeError(f"{name}_out_of_range", f"{name} is more than {PAST.days} days ago")


def check_day(name: str, day: date | None, today: date) -> None:
    if day is not None and not today - PAST <= day <= today + DAYS_AHEAD:
        raise ImplausibleTimeError(f"{name}_out_of_range", f"{name} is not within {PAST.days} days of today")


def check_birth_date(day: date | None, today: date) -> None:
    if day is not None and not EARLIEST_BIRTH <= day <= today:
        raise ImplausibleTimeError("birth_date_out_of_range", f"birth_date is not between {EARLIEST_BIRTH} and today")
