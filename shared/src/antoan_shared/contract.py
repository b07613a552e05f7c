"""The agency contract, generated from the topic registry and the event models (SPEC §4.2).

`python -m antoan_shared.contract` writes, under `contract/` at the repository root:
- `schemas/<topic>/<type>.json`: a JSON Schema (draft-07) of every event type of every contract topic;
- `asyncapi.yaml`: an AsyncAPI 3.0 document of the contract topics (address, key, access, retention, messages),
  whose payloads refer to those schema files.
`--check` only compares what it would write with what is there. A test does the same, so the checked-in
contract is always the one the code produces.

The schemas describe the bytes on the wire: values are written by `model_dump_json()` (see `codec.py`), so
they are generated in pydantic's serialization mode. (For these models the validation mode gives the same
schemas; serialization is the direction agencies see.) Fields with a default are not `required`: a producer
always writes them, but a valid value may omit them, which is also what lets a version gain optional fields.
No schema sets `additionalProperties: false`: consumers ignore fields they do not know.

Only the public contract topics (`topics.CONTRACT_TOPICS`) are described. The platform's internal topics
(re-keyed streams, the identity vault, the audit trail, dead letters) are not a contract: no agency is
granted them, and they may change without a new version.

`breaking_changes` compares two versions of an event schema; the compatibility test runs it between the
frozen baselines (`contract/baseline/v<N>/<topic>/<type>.json`: every `.v<N>` topic's schemas as first
published, never regenerated) and the current schemas. Every contract topic is in the baseline of its version.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from antoan_shared import events, topics
from antoan_shared.topics import Access, TopicSpec

ROOT = Path(__file__).resolve().parents[3]
CONTRACT_DIR = ROOT / "contract"
BASELINE_DIR = CONTRACT_DIR / "baseline"
SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
REGENERATE = "uv run python -m antoan_shared.contract"
KAFKA_BINDING_VERSION = "0.5.0"
ACCESS_NOTES = {
    Access.PUBLIC: "Public: any subscribing agency may read it.",
    Access.RESTRICTED: "Restricted: readable only by agencies granted a read ACL on it (SASL in production).",
    Access.INTERNAL: "Internal: the platform's own; never granted to agencies.",
}

Schema = dict[str, Any]

# What a subscriber of a topic needs beyond the registry's one-line description: how to reduce it to the
# current state, and what replaces what. Appended to the channel's description; keys are contract topics.
CHANNEL_NOTES: dict[str, str] = {
    topics.EXPOSURES.name: (
        "Reduce per (`case_id`, `person_key`) by keeping the lowest `degree`, then the earliest `exposed_at`. "
        "That reduction cannot express a correction: a contact that late data withdraws, or whose degree or "
        "exposure time late data raises, keeps its best report here; exposures.v2 corrects it. exposures.v1 stays "
        "published until every subscriber has moved to exposures.v2; the end is announced in contract/README.md."
    ),
    topics.EXPOSURES_V2.name: (
        "Values carry `schema_version` 2. The key is the contact's `person_key`, so every record about "
        "one person is on one partition, in the order the tracer decided them. Reduce by keeping the latest "
        "record (in partition order, not by `occurred_at`) per (`case_id`, `person_key`): a later record "
        "corrects the contact's degree, venue, window or exposure time, and a record with `withdrawn` true "
        "removes the person from that case's contacts (its exposure fields are null). The contacts of a case "
        "are the pairs whose latest record is not withdrawn. The tracer writes in Kafka transactions: read "
        "with `isolation.level=read_committed`. Replaces exposures.v1, which stays published for the transition."
    ),
}
# A topic that replaces another: published beside it until every subscriber has moved.
SUPERSEDED_BY: dict[str, str] = {topics.EXPOSURES.name: topics.EXPOSURES_V2.name}


# --- JSON Schemas ----------------------------------------------------------------------------------


def schema_path(spec: TopicSpec, model: type[events.Event]) -> str:
    """Where an event type's schema lives, relative to `contract/`."""
    return f"schemas/{spec.name}/{event_type(model)}.json"


def event_type(model: type[events.Event]) -> str:
    default = model.model_fields["type"].default
    if not isinstance(default, str):
        raise TypeError(f"{model.__name__} has no fixed `type`")
    return default


def schema_version(model: type[events.Event]) -> int:
    """The `schema_version` an event type's values carry (1, or 2 for a type first published on a `.v2` topic)."""
    default = model.model_fields["schema_version"].default
    if not isinstance(default, int):
        raise TypeError(f"{model.__name__} has no fixed `schema_version`")
    return default


def topic_version(name: str) -> int:
    """A topic's version, from its name: `exposures.v2` is 2."""
    match = re.fullmatch(r".+\.v([1-9][0-9]*)", name)
    if match is None:
        raise ValueError(f"{name!r} does not end in .v<N>")
    return int(match[1])


def event_schema(model: type[events.Event]) -> Schema:
    """The JSON Schema (draft-07) of an event's JSON value, as `model_dump_json` writes it."""
    generated = model.model_json_schema(mode="serialization", ref_template="#/definitions/{model}")
    definitions = generated.pop("$defs", None)
    schema: Schema = {"$schema": SCHEMA_DIALECT, **generated}
    if definitions:
        schema["definitions"] = definitions
    return schema


def contract_schemas() -> dict[str, Schema]:
    """Every contract topic's event schemas by path under `contract/`."""
    return {
        schema_path(spec, model): event_schema(model) for spec in topics.CONTRACT_TOPICS for model in spec.value_types
    }


# --- the AsyncAPI document ------------------------------------------------------------------------------


def _retention(spec: TopicSpec) -> str:
    if spec.retained_days is None:
        return "kept forever" + (" (compacted: the latest value per key)" if spec.compacted else "")
    if spec.retained_days == topics.DEFAULT_RETENTION_DAYS:
        return f"{spec.retained_days} days by default (the deployment's ANTOAN_RETENTION_DAYS)"
    return f"{spec.retained_days} days"


def _summary(model: type[events.Event]) -> str:
    doc = (model.__doc__ or "").strip()
    if not doc or doc == (events.Event.__doc__ or "").strip():
        return model.__name__
    return " ".join(doc.split())


def _channel(spec: TopicSpec) -> Schema:
    retention_ms = spec.retention_ms()
    note = CHANNEL_NOTES.get(spec.name)
    links: Schema = {}
    if spec.name in SUPERSEDED_BY:
        links["x-antoan-superseded-by"] = SUPERSEDED_BY[spec.name]
    replaced = [old for old, new in SUPERSEDED_BY.items() if new == spec.name]
    if replaced:
        links["x-antoan-supersedes"] = replaced
    return {
        "address": spec.name,
        "title": spec.name,
        "summary": spec.description,
        "description": (
            f"{spec.description} Keyed by `{spec.key}`; written by {spec.writer}. "
            f"{ACCESS_NOTES[spec.access]} Retention: {_retention(spec)}." + (f"\n\n{note}" if note else "")
        ),
        "messages": {event_type(m): {"$ref": f"#/components/messages/{event_type(m)}"} for m in spec.value_types},
        "tags": [{"name": spec.access.value}],
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "topicConfiguration": {
                    "cleanup.policy": ["compact" if spec.compacted else "delete"],
                    "retention.ms": -1 if retention_ms is None else retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-antoan-access": spec.access.value,
        "x-antoan-key": spec.key,
        "x-antoan-writer": spec.writer,
        "x-antoan-retention": _retention(spec),
        **links,
    }


def _message(spec: TopicSpec, model: type[events.Event]) -> Schema:
    return {
        "name": model.__name__,
        "title": event_type(model),
        "summary": _summary(model),
        "contentType": "application/json",
        "payload": {"$ref": schema_path(spec, model)},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"The event's `{spec.key}`, UTF-8"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-antoan-schema-version": schema_version(model),
    }


INFO_DESCRIPTION = """\
The Kafka topics other agencies subscribe to (SPEC §4.2), generated from the topic registry
(`antoan_shared.topics`) and the event models (`antoan_shared.events`) by `python -m antoan_shared.contract`.

Every value is UTF-8 JSON: the envelope (`event_id`, `type`, `schema_version`, `occurred_at`, `producer`) with
the event's own fields at the top level. Keys are UTF-8 strings (the field each channel names). Deduplicate on
`event_id`; choose the schema by `type`; ignore fields you do not know (a version only ever gains optional
fields). A breaking change means a new `.v2` topic beside the old one, as exposures.v2 (exact, with corrections
and withdrawals) is beside exposures.v1 for a transition; `schema_version` is the version of the topic a value
is on (x-antoan-schema-version on each message).

A deployment may prefix every address with a namespace (`<namespace>.venue-risk.v1`). Internal topics of the
platform are not part of this contract and are never granted to agencies."""


def asyncapi_document() -> Schema:
    channels: Schema = {}
    operations: Schema = {}
    messages: Schema = {}
    for spec in topics.CONTRACT_TOPICS:
        channels[spec.name] = _channel(spec)
        operations[f"publish.{spec.name}"] = {
            "action": "send",
            "title": f"{spec.writer} publishes {spec.name}",
            "channel": {"$ref": f"#/channels/{spec.name}"},
            "messages": [{"$ref": f"#/channels/{spec.name}/messages/{event_type(m)}"} for m in spec.value_types],
        }
        for model in spec.value_types:
            messages[event_type(model)] = _message(spec, model)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Antoan agency topics",
            "version": f"{events.SCHEMA_VERSION}.0.0",
            "description": INFO_DESCRIPTION,
            "tags": [
                {"name": access.value, "description": ACCESS_NOTES[access]}
                for access in (Access.PUBLIC, Access.RESTRICTED)
            ],
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "{bootstrap}",
                "protocol": "kafka-secure",
                "description": "A national deployment: SASL/SCRAM over TLS; restricted topics need a read ACL.",
                "variables": {"bootstrap": {"description": "A bootstrap broker the operator gives you"}},
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            },
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "`make up`: one plaintext broker on loopback.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "securitySchemes": {
                "scram": {"type": "scramSha512", "description": "The agency's own SASL/SCRAM-SHA-512 credentials"}
            },
        },
    }


# --- rendering and checking -----------------------------------------------------------------------------


def render_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


class _Dumper(yaml.SafeDumper):
    """Writes text of several lines as a literal block, so the document reads like its source."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def render_yaml(value: Any) -> str:
    header = f"# Generated by `{REGENERATE}`: do not edit.\n"
    return header + yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def generated_files() -> dict[str, str]:
    """Every generated file's text by its path under `contract/`."""
    files = {path: render_json(schema) for path, schema in contract_schemas().items()}
    files["asyncapi.yaml"] = render_yaml(asyncapi_document())
    return files


def stale_files(directory: Path = CONTRACT_DIR) -> list[str]:
    """Generated files that are missing, differ, or should no longer be there, with a diff of each."""
    expected = generated_files()
    problems = []
    for path, text in expected.items():
        target = directory / path
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), path, path + " (generated)", n=1)
            problems.append("\n".join(list(diff)[:40]))
    schemas = directory / "schemas"
    if schemas.exists():
        for found in sorted(schemas.rglob("*.json")):
            path = found.relative_to(directory).as_posix()
            if path not in expected:
                problems.append(f"{path}: no longer generated; delete it")
    return problems


def write(directory: Path = CONTRACT_DIR) -> list[str]:
    """Writes the generated files, removes stale schema files; returns what changed."""
    changed = []
    expected = generated_files()
    for path, text in expected.items():
        target = directory / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed.append(path)
    schemas = directory / "schemas"
    for found in sorted(schemas.rglob("*.json")):
        if found.relative_to(directory).as_posix() not in expected:
            found.unlink()
            changed.append(f"{found.relative_to(directory).as_posix()} (removed)")
    return changed


# --- compatibility ---------------------------------------------------------------------------------------


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _alternatives(schema: Schema, root: Schema) -> list[Schema]:
    schema = _resolve(schema, root)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [alt for option in options for alt in _alternatives(option, root)]
    types = schema.get("type")
    if isinstance(types, list):
        return [{**schema, "type": t} for t in types]
    return [schema]


def _type_of(schema: Schema) -> str:
    if "type" in schema:
        return str(schema["type"])
    if "const" in schema:
        return type(schema["const"]).__name__
    return "any"


def _accepts(new_type: str, old_type: str) -> bool:
    return new_type in (old_type, "any") or (old_type == "integer" and new_type == "number")


def _narrowed_bounds(old: Schema, new: Schema) -> list[str]:
    problems = []
    for key in ("minimum", "exclusiveMinimum", "minLength", "minItems"):
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"{key} raised to {new[key]}")
    for key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems"):
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"{key} lowered to {new[key]}")
    if "format" in new and new.get("format") != old.get("format"):
        problems.append(f"format changed to {new['format']!r}")
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        problems.append(f"pattern changed to {new['pattern']!r}")
    return problems


def _compare(path: str, old: Schema, new: Schema, old_root: Schema, new_root: Schema) -> Iterator[str]:
    old_options, new_options = _alternatives(old, old_root), _alternatives(new, new_root)
    for old_option in old_options:
        kind = _type_of(old_option)
        matches = [n for n in new_options if _accepts(_type_of(n), kind)]
        if not matches:
            now = sorted({_type_of(n) for n in new_options})
            yield f"{path}: type changed: {kind} is no longer accepted (now {', '.join(now)})"
            continue
        yield from _compare_same_type(path, old_option, matches[0], old_root, new_root)


def _compare_same_type(path: str, old: Schema, new: Schema, old_root: Schema, new_root: Schema) -> Iterator[str]:
    if "const" in new and new.get("const") != old.get("const"):
        was = f"{old['const']!r}" if "const" in old else "any value"
        yield f"{path}: const changed from {was} to {new['const']!r}"
    if "enum" in new:
        removed = [v for v in old.get("enum", [None]) if v not in new["enum"]] if "enum" in old else ["(any value)"]
        if "const" in old and old["const"] not in new["enum"]:
            removed.append(old["const"])
        for value in removed:
            yield f"{path}: enum value {value!r} removed"
    for problem in _narrowed_bounds(old, new):
        yield f"{path}: {problem}"
    old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
    for name, old_property in old_properties.items():
        if name not in new_properties:
            yield f"{path}.{name}: field removed"
        else:
            yield from _compare(f"{path}.{name}", old_property, new_properties[name], old_root, new_root)
    for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
        yield f"{path}.{name}: new required field"
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        yield f"{path}: unknown fields are no longer allowed"
    if "items" in old and "items" in new:
        yield from _compare(f"{path}[]", old["items"], new["items"], old_root, new_root)
    old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
    if isinstance(old_extra, dict) and isinstance(new_extra, dict):
        yield from _compare(f"{path}{{}}", old_extra, new_extra, old_root, new_root)


def breaking_changes(before: Schema, after: Schema) -> list[str]:
    """What would break a consumer or producer of `before` if the schema became `after` ([] if nothing)."""
    return list(_compare("$", before, after, before, after))


def incompatibilities(baseline: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[str]:
    """Breaking changes of every baselined event type; types that are new since the baseline do not count."""
    problems = []
    for path, before in sorted(baseline.items()):
        if path not in current:
            problems.append(f"{path}: event type removed")
            continue
        problems += [f"{path}: {problem}" for problem in breaking_changes(before, current[path])]
    return problems


def load_schemas(directory: Path) -> dict[str, Schema]:
    """The JSON files under a directory, by their path below it, prefixed `schemas/` like `contract_schemas`."""
    return {
        "schemas/" + found.relative_to(directory).as_posix(): json.loads(found.read_text(encoding="utf-8"))
        for found in sorted(directory.rglob("*.json"))
    }


def baseline_dir(topic: str, directory: Path = BASELINE_DIR) -> Path:
    """Where a topic's frozen schemas live: the baseline of its version (`baseline/v2/exposures.v2/`)."""
    return directory / f"v{topic_version(topic)}" / topic


def baseline_versions(directory: Path = BASELINE_DIR) -> dict[str, dict[str, Schema]]:
    """Every frozen baseline (`v1`, `v2`, ...) with its schemas by path, named like `contract_schemas`."""
    return {
        found.name: load_schemas(found)
        for found in sorted(directory.iterdir(), key=lambda p: p.name)
        if found.is_dir() and re.fullmatch(r"v[1-9][0-9]*", found.name)
    }


def baseline_problems(directory: Path = BASELINE_DIR) -> list[str]:
    """Contract topics not frozen in the baseline of their version, and schemas frozen in another's."""
    problems = [
        f"{spec.name}: not frozen; copy schemas/{spec.name}/ to baseline/v{topic_version(spec.name)}/{spec.name}/ "
        "once, when the topic is first published"
        for spec in topics.CONTRACT_TOPICS
        if not any(baseline_dir(spec.name, directory).glob("*.json"))
    ]
    for version, schemas in baseline_versions(directory).items():
        for path in schemas:
            topic = path.split("/")[1]
            if f"v{topic_version(topic)}" != version:
                problems.append(f"baseline/{version}/{path.removeprefix('schemas/')}: {topic} is not a {version} topic")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m antoan_shared.contract", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    parser.add_argument("--dir", type=Path, default=CONTRACT_DIR, help="the contract directory (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files(args.dir)
        for problem in problems:
            sys.stderr.write(problem + "\n")
        if problems:
            sys.stderr.write(f"the contract is out of date: run `{REGENERATE}`\n")
        return 1 if problems else 0
    for path in write(args.dir):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
