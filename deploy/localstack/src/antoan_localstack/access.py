"""Kafka access control (SPEC §7): SCRAM principals and the ACLs derived from the topic registry.

Each platform service has a principal of its own (`ingest`, `tracer`, `safety-map`) that writes only the
topics the registry says it writes, and reads the contract topics (public and restricted: the services
are the platform) plus its own internal ones and those another service shares with it (`TopicSpec.readers`).
`agency` stands for a subscribing agency: it reads the public topics with consumer groups named `agency.…`,
and is refused everything else. `admin` is the broker's super user, used by the local stack to create the ACLs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from antoan_shared import topics
from antoan_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

ADMIN = "admin"
AGENCY = "agency"
SERVICE_PRINCIPALS = ("ingest", "tracer", "safety-map")
PRINCIPALS = (*SERVICE_PRINCIPALS, AGENCY)
MECHANISM = "SCRAM-SHA-512"
CLUSTER = "kafka-cluster"  # the one name of the cluster resource


def password_variable(user: str) -> str:
    """The environment variable (and `.secrets/local.env` line) holding a principal's password."""
    return "ANTOAN_KAFKA_PASSWORD_" + user.upper().replace("-", "_")


PASSWORD_VARIABLES = tuple(password_variable(user) for user in (ADMIN, *PRINCIPALS))


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: `principal` may do `operation` on the topic, group or cluster `name` (or name prefix)."""

    principal: str
    resource: str  # "TOPIC", "GROUP", "CLUSTER" or "TRANSACTIONAL_ID" (kafka.admin.ResourceType names)
    name: str
    operation: str  # kafka.admin.ACLOperation names: READ, WRITE, DESCRIBE, DESCRIBE_CONFIGS, CREATE, ALL, …
    prefixed: bool = False


def _topic_grants(principal: str, names: Iterable[str], operations: Iterable[str]) -> set[Grant]:
    return {Grant(principal, "TOPIC", name, op) for name in names for op in operations}


def grants(namespace: str = "") -> list[Grant]:
    """Every ACL of a deployment namespace, derived from `antoan_shared.topics` and the group naming."""
    settings = ServiceSettings(topic_namespace=namespace)
    contract = [settings.topic(spec) for spec in topics.ALL_TOPICS if spec.access is not topics.Access.INTERNAL]
    out: set[Grant] = set()
    for service in SERVICE_PRINCIPALS:
        own = [settings.topic(spec) for spec in topics.topics_written_by(service)]
        out |= _topic_grants(service, own, ("WRITE", "READ", "DESCRIBE", "CREATE"))
        # Every service creates the topics it reads when they are missing, so start-up order does not matter.
        out |= _topic_grants(service, contract, ("READ", "DESCRIBE", "CREATE"))
        # Internal topics of another service that this one reads (the venue registry's key material).
        shared = [settings.topic(spec) for spec in topics.ALL_TOPICS if service in spec.readers]
        out |= _topic_grants(service, shared, ("READ", "DESCRIBE", "CREATE"))
        out.add(Grant(service, "GROUP", settings.group_id(service, ""), "READ", prefixed=True))
        out.add(Grant(service, "CLUSTER", CLUSTER, "IDEMPOTENT_WRITE"))
    # Quix Streams names the tracer's state changelogs `changelog__<consumer group>--<topic>--<store>`, and
    # the tracer names its transactional producers after the group (antoan_tracer.pipeline.app).
    out.add(Grant("tracer", "TOPIC", f"changelog__{settings.group_id('tracer')}", "ALL", prefixed=True))
    # Quix Streams also reads the configuration of every topic it is given (DescribeConfigs).
    tracer_topics = [*contract, *(settings.topic(spec) for spec in topics.topics_written_by("tracer"))]
    out |= _topic_grants("tracer", tracer_topics, ("DESCRIBE_CONFIGS",))
    out.add(Grant("tracer", "TRANSACTIONAL_ID", settings.group_id("tracer"), "ALL", prefixed=True))
    public = [settings.topic(spec) for spec in topics.ALL_TOPICS if spec.access is topics.Access.PUBLIC]
    out |= _topic_grants(AGENCY, public, ("READ", "DESCRIBE"))
    out.add(Grant(AGENCY, "GROUP", agency_group_prefix(namespace), "READ", prefixed=True))
    return sorted(out)


def agency_group_prefix(namespace: str = "") -> str:
    return f"{namespace}.{AGENCY}." if namespace else f"{AGENCY}."


def to_acl(grant: Grant) -> Any:
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

    pattern = ACLResourcePatternType.PREFIXED if grant.prefixed else ACLResourcePatternType.LITERAL
    return ACL(
        principal=f"User:{grant.principal}",
        host="*",
        operation=ACLOperation[grant.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(ResourceType[grant.resource], grant.name, pattern),
    )


def sasl_client_config(bootstrap: str, user: str, password: str) -> dict[str, Any]:
    """kafka-python settings to connect as `user` (the services build theirs from ServiceSettings)."""
    return ServiceSettings(
        kafka_bootstrap=bootstrap,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism=MECHANISM,
        kafka_sasl_username=user,
        kafka_sasl_password=password,
    ).kafka_client_config()


def apply_grants(bootstrap: str, admin_password: str, namespace: str = "") -> int:
    """Create the namespace's ACLs as the admin (creating an existing ACL is a no-op); returns how many."""
    from kafka import KafkaAdminClient

    acls = [to_acl(grant) for grant in grants(namespace)]
    admin = KafkaAdminClient(**sasl_client_config(bootstrap, ADMIN, admin_password), client_id="antoan-acls")
    try:
        result = admin.create_acls(acls)
    finally:
        with contextlib.suppress(Exception):
            admin.close()
    failed = result.get("failed", [])
    if failed:
        raise RuntimeError(f"{len(failed)} ACLs were refused, e.g. {failed[0]}")
    log.info("kafka ACLs created", extra={"acls": len(acls), "namespace": namespace or "(none)"})
    return len(acls)


def users(env: Mapping[str, str]) -> dict[str, str]:
    """Every SCRAM user and its password, from the environment or the secrets file; missing ones raise."""
    missing = [variable for variable in PASSWORD_VARIABLES if not env.get(variable)]
    if missing:
        raise KeyError(f"Kafka SASL needs passwords in {', '.join(missing)}")
    return {user: env[password_variable(user)] for user in (ADMIN, *PRINCIPALS)}
