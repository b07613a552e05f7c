"""The venue directory a service reads from venues.v1: an unknown venue is only missing once it is loaded."""

from __future__ import annotations

import pytest

from antoan_shared.venues import VenueDirectory
from antoan_shared.web import ApiError


def test_a_venue_not_found_before_the_directory_is_loaded_is_a_retryable_503() -> None:
    directory = VenueDirectory()
    with pytest.raises(ApiError) as refused:
        directory.require_loaded()
    assert (refused.value.status, refused.value.code) == (503, "venues_loading")


def test_once_loaded_a_venue_not_found_is_really_missing() -> None:
    directory = VenueDirectory()
    directory.loaded.set()
    directory.require_loaded()  # no error: the caller answers 404
