"""The gateway's configuration: one template of routes, rendered by the local stack as envsubst would
(test_gateway_routes.py runs it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from antoan_localstack import gateway, stack
from antoan_localstack.stack import StackConfig

ROOT = stack.repo_root()
ROUTES = (gateway.template_dir(ROOT) / gateway.ROUTES_TEMPLATE).read_text("utf-8")
MAIN = (gateway.template_dir(ROOT) / gateway.MAIN_TEMPLATE).read_text("utf-8")


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
