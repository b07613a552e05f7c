"""Presence at one venue: what occupancy counts, and why stale news must not undo newer news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from antoan_tracer.domain.venue import Presence

T0 = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_person_present_counts_until_their_automatic_check_out() -> None:
    presence = Presence()
    assert presence.apply("a", T0, T0 + HOUR, revision=1, now=T0)
    assert presence.occupancy(T0) == 1
    assert presence.occupancy(T0 + HOUR - timedelta(seconds=1)) == 1
    assert presence.occupancy(T0 + HOUR) == 0


def test_a_replayed_older_presence_does_not_bring_back_someone_who_left() -> None:
    # Given a person who arrived (revision 1) and then moved elsewhere (revision 2)
    presence = Presence()
    presence.apply("a", T0, T0 + HOUR, revision=1, now=T0)
    assert presence.apply("a", None, None, revision=2, now=T0 + timedelta(minutes=5))
    # When, after a crash, the stream replays the arrival
    changed = presence.apply("a", T0, T0 + HOUR, revision=1, now=T0 + timedelta(minutes=6))
    # Then nothing changes: they are still gone
    assert not changed
    assert presence.occupancy(T0 + timedelta(minutes=6)) == 0


def test_leaving_twice_is_one_change() -> None:
    presence = Presence()
    presence.apply("a", T0, T0 + HOUR, revision=1, now=T0)
    assert presence.apply("a", None, None, revision=2, now=T0)
    assert not presence.apply("a", None, None, revision=2, now=T0)


def test_presence_round_trips_through_its_table_form_tombstones_included() -> None:
    presence = Presence()
    presence.apply("a", T0, T0 + HOUR, revision=1, now=T0)
    presence.apply("b", None, None, revision=3, now=T0)
    again = Presence.from_json(presence.to_json())
    assert again == presence
    assert not again.apply("b", T0, T0 + HOUR, revision=2, now=T0)


def test_old_entries_and_tombstones_are_forgotten() -> None:
    presence = Presence()
    presence.apply("a", T0, T0 + HOUR, revision=1, now=T0)
    presence.apply("b", None, None, revision=1, now=T0)
    presence.forget_before(T0 + 2 * HOUR)
    assert presence.people == {}
