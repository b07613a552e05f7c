"""The period of a read (`?from=…&to=…`): RFC 3339 as clients write it, an unencoded `+` included, and the
last 24 hours when it is left out. Expected instants are written out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from antoan_tracer.domain.periods import InvalidPeriodError, Period, parse_instant, requested_period

VIETNAM = timezone(timedelta(hours=7))
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
RETENTION = timedelta(days=21)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-02T00:00:00+07:00", datetime(2026, 12, 2, tzinfo=VIETNAM)),
        ("2026-12-01T17:00:00Z", datetime(2026, 12, 1, 17, tzinfo=UTC)),
        ("2026-12-01t17:00:00z", datetime(2026, 12, 1, 17, tzinfo=UTC)),
        ("2026-12-01 17:00:00-05:30", datetime(2026, 12, 1, 17, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
        ("2026-12-02T00:00+07:00", datetime(2026, 12, 2, tzinfo=VIETNAM)),
        ("2026-12-02T00:00:00.250+07:00", datetime(2026, 12, 2, 0, 0, 0, 250_000, tzinfo=VIETNAM)),
    ],
)
def test_an_rfc_3339_timestamp_is_read_with_its_offset(text: str, expected: datetime) -> None:
    # When a timestamp written as RFC 3339 allows is read, Then it is that instant, in the offset it was given in
    instant = parse_instant(text)
    assert instant == expected
    assert instant.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "arrived",
    ["2026-12-02T00:00:00 07:00", "2026-12-02 00:00:00 07:00", "2026-12-02T00:00 07:00", "2026-12-02T00:00:00.5 07:00"],
)
def test_a_plus_that_arrived_as_a_space_is_read_as_the_offsets_plus(arrived: str) -> None:
    # Given Vietnam time written with an unencoded `+`, which a query string turns into a space
    # When it is read
    instant = parse_instant(arrived)
    # Then it is the same instant as with the `+`: midnight in Vietnam, 17:00 UTC the day before
    assert instant.replace(microsecond=0) == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert instant.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-12-02",  # a date alone
        "2026-12-02T00:00:00",  # no time zone
        "2026-12-02T00:00:00 0700",  # not hh:mm
        "2026-12-02T00:00:00  07:00",  # two spaces: not an offset that lost its `+`
        "2026-12-02T00:00:00+0700",  # ISO basic offset, not RFC 3339
        " 2026-12-02T00:00:00Z",
        "2026-12-02T00:00:00Z ",
        "2026-12-02 07:00",  # a date and a time without a zone, not a date and an offset
        "1765-12-02T00:00:00+07:00",
        "2026-13-02T00:00:00Z",
        "2026-12-02T24:00:00Z",
        "2026-12-02T00:00:00+24:00",
        "0001-01-01T00:00:00+01:00",  # outside datetime's range once in UTC
        "9999-12-31T23:59:59-01:00",
        "٢٠٢٦-12-02T00:00:00Z",  # digits of another script
    ],
)
def test_anything_else_is_refused_with_the_format_expected(text: str) -> None:
    # When something that is not an RFC 3339 timestamp with a time zone is read
    with pytest.raises(InvalidPeriodError) as refused:
        parse_instant(text, "from")
    # Then the refusal names the parameter
    message = str(refused.value)
    assert message.startswith("from ")


def test_the_refusal_of_an_unreadable_timestamp_shows_the_format_and_how_to_encode_the_plus() -> None:
    with pytest.raises(InvalidPeriodError) as refused:
        parse_instant("2026-12-02T00:00:00 7:00", "to")
    assert "2026-12-02T00:00:00+07:00" in str(refused.value)
    assert "%2B" in str(refused.value)


def test_a_period_left_out_is_the_last_24_hours() -> None:
    # When neither end of the period is given, Then it is the 24 hours up to now
    assert requested_period(None, None, NOW, RETENTION) == Period(NOW - timedelta(hours=24), NOW)


def test_a_period_given_only_its_end_is_the_24_hours_before_it() -> None:
    end = datetime(2026, 12, 1, 12, tzinfo=VIETNAM)
    assert requested_period(None, "2026-12-01T12:00:00+07:00", NOW, RETENTION) == Period(end - timedelta(hours=24), end)


def test_a_period_given_only_its_start_runs_until_now() -> None:
    start = datetime(2026, 12, 1, 12, tzinfo=VIETNAM)
    assert requested_period("2026-12-01T12:00:00 07:00", None, NOW, RETENTION) == Period(start, NOW)


def test_a_default_start_never_reaches_past_a_retention_shorter_than_a_day() -> None:
    assert requested_period(None, None, NOW, timedelta(hours=2)) == Period(NOW - timedelta(hours=2), NOW)


def test_a_period_of_both_ends_is_taken_as_given_up_to_the_retention_period() -> None:
    # Given a period exactly as long as the retention period, and an empty one
    longest = requested_period("2026-11-11T09:30:00Z", "2026-12-02T09:30:00Z", NOW, RETENTION)
    instant = requested_period("2026-12-02T00:00:00+07:00", "2026-12-01T17:00:00Z", NOW, RETENTION)
    # Then both are taken
    assert longest.end - longest.start == RETENTION
    assert instant.start == instant.end


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-12-02T01:00:00+07:00", "2026-12-02T00:00:00+07:00", "from must not be after to"),
        ("2026-12-03T00:00:00Z", None, "now, when to is left out"),
        ("2026-11-11T09:29:59Z", "2026-12-02T09:30:00Z", "at most 21 days apart"),
        ("yesterday", "2026-12-02T00:00:00Z", "from is not a timestamp"),
        ("2026-12-01T00:00:00Z", "today", "to is not a timestamp"),
    ],
)
def test_a_period_that_is_backwards_too_long_or_unreadable_is_refused(start: str, end: str | None, says: str) -> None:
    with pytest.raises(InvalidPeriodError, match=says):
        requested_period(start, end, NOW, RETENTION)
