"""The gateway's configuration: one template of routes, rendered by the local stack as envsubst renders it in
compose and on a cluster, and the three places given the same values (test_gateway_routes.py runs it)."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from antoan_localstack import gateway, stack
from antoan_localstack.stack import StackConfig

ROOT = stack.repo_root()
ROUTES = (gateway.template_dir(ROOT) / gateway.ROUTES_TEMPLATE).read_text("utf-8")
MAIN = (gateway.template_dir(ROOT) / gateway.MAIN_TEMPLATE).read_text("utf-8")
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
MANIFESTS = {doc["kind"]: doc for doc in yaml.safe_load_all((ROOT / "deploy/k8s/gateway.yaml").read_text("utf-8"))}
APP_SERVICES = ("ingest", "tracer", "safety-map")
# Compose's `${NAME:-default}`, read as its default.
DEFAULTED = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:-([^}]*)\}")


def config(tmp_path: Path, **overrides: Any) -> StackConfig:
    ports = {
        "kafka_port": 19092,
        "controller_port": 19093,
        "redis_port": 16379,
        "ingest_port": 18001,
        "tracer_port": 18002,
        "safety_map_port": 18003,
        "public_port": 18000,
    }
    return StackConfig(state_dir=tmp_path, **{**ports, **overrides})


def compose_default(value: str) -> str:
    return DEFAULTED.sub(lambda match: match.group(1), value)


# --------------------------------------------------------------------------------------------------------
# rendering


def test_render_fills_each_placeholder_and_leaves_nginx_variables_alone() -> None:
    text = "listen ${ANTOAN_GATEWAY_LISTEN}; proxy_set_header X-Forwarded-For $remote_addr; # ${ANTOAN_GATEWAY_LISTEN}"
    rendered = gateway.render(text, {"ANTOAN_GATEWAY_LISTEN": "127.0.0.1:8000"})
    assert rendered == "listen 127.0.0.1:8000; proxy_set_header X-Forwarded-For $remote_addr; # 127.0.0.1:8000"


def test_render_refuses_a_placeholder_without_a_value() -> None:
    with pytest.raises(gateway.TemplateError, match="ANTOAN_WEB_ROOT"):
        gateway.render("root ${ANTOAN_WEB_ROOT};", {})


@pytest.mark.parametrize("value", ["/srv/my pages", "/srv/$pages", "/srv/x; return 200 hi", '/srv/"x"', "/srv/{x}"])
def test_render_refuses_a_value_nginx_would_read_as_something_else(value: str) -> None:
    with pytest.raises(gateway.TemplateError, match="ANTOAN_WEB_ROOT"):
        gateway.render("root ${ANTOAN_WEB_ROOT};", {"ANTOAN_WEB_ROOT": value})


@pytest.mark.parametrize("template", [ROUTES, MAIN], ids=["routes", "main"])
def test_templates_name_their_variables_only_as_envsubst_and_render_agree(template: str) -> None:
    # envsubst replaces $NAME as well as ${NAME}; here only ${NAME} is used, so both fill in the same places
    assert re.findall(r"\$[A-Z]", template) == []
    # and every one is among those the image is told to substitute (NGINX_ENVSUBST_FILTER=^ANTOAN_)
    assert all(name.startswith("ANTOAN_") for name in gateway.placeholders(template))


def test_the_local_stack_gives_every_placeholder_a_value(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert set(gateway.local_route_values(cfg, tmp_path)) == gateway.placeholders(ROUTES)
    assert set(gateway.local_main_values(cfg)) == gateway.placeholders(MAIN)
    main, routes = gateway.render_local(cfg, ROOT)
    assert "listen 127.0.0.1:18000;" in routes
    assert "server 127.0.0.1:18001;" in routes
    assert f"proxy_bind {gateway.UPSTREAM_SOURCE};" in routes
    assert f"root {ROOT / 'web' / 'public'};" in routes
    assert f"include {cfg.gateway_routes};" in main
    assert f"pid {cfg.gateway_dir}/nginx.pid;" in main
    assert "daemon off;" in main


def test_the_gateway_overwrites_the_forwarded_address_the_client_sent() -> None:
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in ROUTES
    assert "$proxy_add_x_forwarded_for" not in ROUTES


@pytest.mark.parametrize(("euid", "as_root"), [(0, True), (1000, False)])
def test_nginx_keeps_its_workers_as_root_only_when_started_by_root(tmp_path: Path, euid: int, *, as_root: bool) -> None:
    cfg = config(tmp_path)
    argv = gateway.local_argv("/usr/sbin/nginx", cfg, euid=euid)
    assert argv[:7] == ["/usr/sbin/nginx", "-p", f"{cfg.gateway_dir}/", "-c", str(cfg.gateway_conf), "-e", "stderr"]
    assert (argv[7:] == ["-g", "user root;"]) is as_root


# --------------------------------------------------------------------------------------------------------
# the stack's configuration


def test_the_public_address_is_the_gateways_own_unless_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTOAN_PUBLIC_PORT", raising=False)
    monkeypatch.delenv("ANTOAN_PUBLIC_URL", raising=False)
    assert StackConfig.from_env(tmp_path).public_url == "http://127.0.0.1:8000"
    monkeypatch.setenv("ANTOAN_PUBLIC_PORT", "18080")
    assert StackConfig.from_env(tmp_path).public_url == "http://127.0.0.1:18080"
    monkeypatch.setenv("ANTOAN_PUBLIC_URL", "https://antoan.example.vn/")
    cfg = StackConfig.from_env(tmp_path)
    assert (cfg.public_port, cfg.public_url) == (18080, "https://antoan.example.vn")


@pytest.mark.parametrize("url", ["antoan.example.vn", "ftp://antoan.example.vn", "https://antoan.example.vn/?x=1"])
def test_a_public_address_that_is_not_an_http_address_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("ANTOAN_PUBLIC_URL", url)
    with pytest.raises(ValueError, match="ANTOAN_PUBLIC_URL"):
        StackConfig.from_env(tmp_path)


def test_the_public_port_is_one_of_the_stacks_ports(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="public_port"):
        config(tmp_path, public_port=18001)


def test_the_services_are_told_the_public_address_and_to_trust_the_gateway_alone(tmp_path: Path) -> None:
    env = stack.service_env(config(tmp_path), {})
    assert env["ANTOAN_PUBLIC_URL"] == "http://127.0.0.1:18000"
    assert env["ANTOAN_TRUSTED_PROXIES"] == gateway.UPSTREAM_SOURCE
    assert gateway.UPSTREAM_SOURCE != stack.LOOPBACK  # a direct caller on the machine is not the gateway


# --------------------------------------------------------------------------------------------------------
# compose


def gateway_service() -> dict[str, Any]:
    service: dict[str, Any] = COMPOSE["services"]["gateway"]
    return service


def test_compose_with_its_gateway_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "deploy" / "compose" / "compose-spec.json").read_text("utf-8"))
    errors = [error.message for error in Draft7Validator(schema).iter_errors(COMPOSE)]
    assert errors == []


def test_compose_runs_the_official_nginx_image_pinned_as_the_cluster_does() -> None:
    image = gateway_service()["image"]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+-alpine", image)
    dockerfile = (gateway.template_dir(ROOT) / "Dockerfile").read_text("utf-8")
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == [image]


def test_compose_renders_the_one_template_with_a_value_for_each_placeholder() -> None:
    service = gateway_service()
    env = {name: str(value) for name, value in service["environment"].items()}
    assert {name for name in env if name.startswith("ANTOAN_")} == gateway.placeholders(ROUTES)
    # the image's entrypoint substitutes only these, never a variable of nginx's own
    assert env["NGINX_ENVSUBST_FILTER"] == "^ANTOAN_"
    mounts = {mount["target"]: mount for mount in service["volumes"]}
    template = mounts["/etc/nginx/templates/default.conf.template"]
    assert (ROOT / template["source"]).resolve() == gateway.template_dir(ROOT) / gateway.ROUTES_TEMPLATE
    pages = mounts[env["ANTOAN_WEB_ROOT"]]
    assert (ROOT / pages["source"]).resolve() == ROOT / "web" / "public"
    assert template["read_only"] and pages["read_only"]
    assert env["ANTOAN_GATEWAY_PROXY_BIND"] == "off"


def test_compose_publishes_the_gateway_on_the_public_port_and_starts_it_after_the_services() -> None:
    service = gateway_service()
    listen = service["environment"]["ANTOAN_GATEWAY_LISTEN"]
    assert service["ports"] == [
        {"name": "http", "target": int(listen), "published": "8000", "host_ip": "127.0.0.1", "protocol": "tcp"}
    ]
    assert {name: dep["condition"] for name, dep in service["depends_on"].items()} == dict.fromkeys(
        APP_SERVICES, "service_healthy"
    )
    assert f"http://127.0.0.1:{listen}/healthz" in service["healthcheck"]["test"]


def test_compose_services_trust_exactly_the_gateways_address_and_know_the_public_one() -> None:
    address = compose_default(gateway_service()["networks"]["default"]["ipv4_address"])
    subnet = compose_default(COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    for name in APP_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        assert compose_default(env["ANTOAN_TRUSTED_PROXIES"]) == address, name
        assert compose_default(env["ANTOAN_PUBLIC_URL"]) == "http://127.0.0.1:8000", name


# --------------------------------------------------------------------------------------------------------
# the cluster


def test_the_cluster_holds_the_same_routes_as_the_local_stack_and_compose() -> None:
    routes = MANIFESTS["ConfigMap"]["data"]["default.conf.template"]

    assert routes == ROUTES, "the cluster's copy differs: `python -m antoan_localstack.gateway` copies it again"


def test_copying_the_routes_into_the_cluster_manifest_changes_only_its_configmap() -> None:
    manifest = (ROOT / gateway.CLUSTER_MANIFEST).read_text("utf-8")
    changed = gateway.cluster_manifest_with_routes(manifest, "server {\n    listen 1;\n\n}\n")
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(changed)}
    assert documents["ConfigMap"]["data"]["default.conf.template"] == "server {\n    listen 1;\n\n}\n"
    assert {kind: doc for kind, doc in documents.items() if kind != "ConfigMap"} == {
        kind: doc for kind, doc in MANIFESTS.items() if kind != "ConfigMap"
    }
    assert gateway.cluster_manifest_with_routes(changed, ROUTES) == manifest


def test_the_cluster_renders_the_template_as_compose_does() -> None:
    pod = MANIFESTS["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert {name for name in env if name.startswith("ANTOAN_")} == gateway.placeholders(ROUTES)
    assert env["NGINX_ENVSUBST_FILTER"] == "^ANTOAN_"
    # the ConfigMap is the image's templates directory
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/etc/nginx/templates"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes[mount["name"]]["configMap"]["name"] == MANIFESTS["ConfigMap"]["metadata"]["name"]
    # upstreams by the services' names and ports, as in compose
    compose_env = gateway_service()["environment"]
    for name in ("ANTOAN_INGEST_UPSTREAM", "ANTOAN_TRACER_UPSTREAM", "ANTOAN_SAFETY_MAP_UPSTREAM"):
        assert env[name] == compose_env[name]


def test_the_cluster_serves_the_gateway_on_its_port_and_probes_its_health() -> None:
    (container,) = MANIFESTS["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    (port,) = container["ports"]
    assert port["containerPort"] == int(env["ANTOAN_GATEWAY_LISTEN"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    service = MANIFESTS["Service"]
    assert service["spec"]["selector"] == MANIFESTS["Deployment"]["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
