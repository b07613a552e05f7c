"""The batch endpoint's answer, built from plain values, is what its documented models would dump."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from antoan_ingest.api import schemas
from antoan_ingest.api.routes.checkins import batch_answer
from antoan_ingest.checkins import PersonRecorded, ScanAccepted
from antoan_shared.web import ApiError, ErrorBody

texts = st.text(min_size=1, max_size=12)
accepted = st.builds(
    ScanAccepted,
    event_id=texts,
    person_key=texts,
    venue_id=texts,
    dependants=st.lists(st.builds(PersonRecorded, event_id=texts, person_key=texts), max_size=3).map(tuple),
)
refused = st.builds(ApiError, st.sampled_from([400, 401, 404, 409, 422, 503]), texts, texts)


def documented(outcomes: list[ScanAccepted | ApiError]) -> dict[str, object]:
    """The answer as the models of the OpenAPI document give it (what the endpoint answered before)."""
    results = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ApiError):
            error = ErrorBody(code=outcome.code, message=outcome.message)
            results.append(schemas.BatchItemResult(index=index, status=outcome.status, error=error))
        else:
            deps = outcome.dependants
            result = schemas.CheckInAccepted(
                event_id=outcome.event_id,
                person_key=outcome.person_key,
                venue_id=outcome.venue_id,
                dependants=[schemas.DependantAccepted(event_id=d.event_id, person_key=d.person_key) for d in deps],
            )
            results.append(schemas.BatchItemResult(index=index, status=202, result=result))
    ok = sum(1 for r in results if r.status == 202)
    answer = schemas.BatchResults(accepted=ok, rejected=len(results) - ok, results=results)
    return answer.model_dump(mode="json", exclude_none=True)


@given(st.lists(st.one_of(accepted, refused), max_size=20))
def test_a_batch_answer_is_the_documented_models_dump(outcomes: list[ScanAccepted | ApiError]) -> None:
    assert orjson.loads(batch_answer(outcomes).body) == documented(outcomes)
