"""The ACLs of SPEC §7, derived from the topic registry: one writer per topic, agencies on public topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from antoan_localstack import access
from antoan_localstack.stack import StackConfig, StackError, render_server_properties
from antoan_shared import topics


def _granted(principal: str, operation: str, namespace: str = "t1") -> set[str]:
    """Topics (by literal name) the principal may do `operation` on."""
    return {
        g.name
        for g in access.grants(namespace)
        if g.principal == principal and g.resource == "TOPIC" and g.operation in (operation, "ALL")
    }


def test_each_topic_is_written_by_its_writer_alone() -> None:
    # Given the registry, When the ACLs are derived, Then exactly the registered writer may write each topic
    for spec in topics.ALL_TOPICS:
        writers = {p for p in access.PRINCIPALS if f"t1.{spec.name}" in _granted(p, "WRITE")}
        assert writers == {spec.writer}, spec.name


def test_the_agency_reads_public_topics_and_nothing_restricted_or_internal() -> None:
    readable = _granted(access.AGENCY, "READ")
    public = {f"t1.{spec.name}" for spec in topics.ALL_TOPICS if spec.access is topics.Access.PUBLIC}
    assert readable == public
    assert "t1.venue-risk.v1" in readable
    assert "t1.checkins.v1" not in readable
    assert not _granted(access.AGENCY, "WRITE")
    agency_groups = [g for g in access.grants("t1") if g.principal == access.AGENCY and g.resource == "GROUP"]
    assert [(g.name, g.prefixed) for g in agency_groups] == [("t1.agency.", True)]


def test_services_read_the_contract_topics_and_their_own_but_not_others_internals() -> None:
    tracer_reads = _granted("tracer", "READ")
    assert {"t1.checkins.v1", "t1.cases.v1", "t1.venues.v1", "t1.tracer.person-inbox.v2"} <= tracer_reads
    assert "t1.identity-vault.v1" not in tracer_reads
    assert "t1.tracer.person-inbox.v2" not in _granted("safety-map", "READ")


def test_the_tracer_owns_its_state_changelogs_and_transactions_and_each_service_its_groups() -> None:
    prefixed = {(g.principal, g.resource, g.name) for g in access.grants("t1") if g.prefixed}
    assert ("tracer", "TOPIC", "changelog__t1.antoan.tracer.main") in prefixed  # Quix: changelog__<group>--…
    assert ("tracer", "TRANSACTIONAL_ID", "t1.antoan.tracer.main") in prefixed
    for service in access.SERVICE_PRINCIPALS:
        assert (service, "GROUP", f"t1.antoan.{service}.") in prefixed


def test_without_a_namespace_names_are_the_contract_names() -> None:
    assert "venue-risk.v1" in _granted(access.AGENCY, "READ", namespace="")
    assert access.agency_group_prefix("") == "agency."


def test_sasl_broker_properties_use_scram_and_the_standard_authorizer(tmp_path: Path) -> None:
    cfg = StackConfig.from_env(tmp_path, kafka_port=19092, controller_port=19093, kafka_sasl=True)
    text = render_server_properties(cfg, admin_password="p4ss")
    assert "listeners=SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in text
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in text
    assert "allow.everyone.if.no.acl.found=false" in text
    assert 'username="admin" password="p4ss"' in text
    assert "${" not in text


def test_plaintext_broker_properties_have_no_authorizer(tmp_path: Path) -> None:
    text = render_server_properties(StackConfig.from_env(tmp_path, kafka_sasl=False))
    assert "authorizer" not in text
    assert "listeners=PLAINTEXT://" in text


def test_sasl_without_an_admin_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="ANTOAN_KAFKA_PASSWORD_ADMIN"):
        render_server_properties(StackConfig.from_env(tmp_path, kafka_sasl=True))


def test_the_venue_registry_is_read_by_the_services_that_check_venue_keys_and_by_no_agency() -> None:
    for service in access.SERVICE_PRINCIPALS:
        assert "t1.venue-registry.v1" in _granted(service, "READ"), service
    assert _granted("tracer", "WRITE") & {"t1.venue-registry.v1", "t1.venues.v1"} == set()
    assert "t1.venue-registry.v1" not in _granted(access.AGENCY, "READ")
    assert "t1.identity-vault.v1" not in _granted("safety-map", "READ")  # readers are per topic
