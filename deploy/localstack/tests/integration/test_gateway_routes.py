"""The gateway's routes in a real nginx, in front of stand-ins for the three services that answer with what
reached them: which service each path reaches and as which path, what a service is told about the client, how
large a body gets through, that server-sent events are not held back, the pages' types and headers, and the
gateway's own errors. The compose file and the cluster render the same template (test_gateway_config.py);
tests/integration/test_gateway.py goes through the gateway to the real services.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from antoan_localstack import gateway, stack
from antoan_localstack.stack import StackConfig
from antoan_localstack.testing import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = stack.repo_root()
SERVICES = ("ingest", "tracer", "safety-map")
MIB = 1024 * 1024


class StandIn(ThreadingHTTPServer):
    """A service's stand-in: answers every request with what reached it, as JSON; a path ending in `/stream`
    sends one event (naming the service) at once and holds the connection until `release` is set."""

    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", free_port()), _Echo)
        self.name = name
        self.release = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandIn

    def _answer(self) -> None:
        remaining = int(self.headers.get("content-length") or 0)
        received = 0
        while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 16))):
            received += len(chunk)
            remaining -= len(chunk)
        if self.path.endswith("/stream"):
            self._stream()
            return
        body = json.dumps(
            {
                "service": self.server.name,
                "method": self.command,
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "forwarded_for": self.headers.get_all("x-forwarded-for") or [],
                "peer": self.client_address[0],
                "body_bytes": received,
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        # Like the map's stream, but without its `X-Accel-Buffering: no`: what holds events back or not is the
        # gateway's own configuration.
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(f"retry: 3000\n: connected to {self.server.name}\n\n".encode())
        self.wfile.flush()
        self.server.release.wait(20)
        self.wfile.write(b"data: end\n\n")

    # http.server calls do_<METHOD>
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[dict[str, StandIn]]:
    servers = {name: StandIn(name) for name in SERVICES}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers.values():
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A web root with one file of each kind the pages use."""
    root = tmp_path_factory.mktemp("pages")
    files = {
        "index.html": "<!doctype html><title>trang chủ</title>",
        "landing.css": "body { color: #1d2430; }",
        "app/i18n.js": "var lang = 'vi';",
        "app/queue.mjs": "export const queue = [];",
        "app/manifest.webmanifest": '{"name": "Antoan"}',
        "c/icon.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
        "c/index.html": "<!doctype html><title>khai báo</title>",
        "c/readme.txt": "a real file under /c/",
        ".env": "SECRET=1",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


def gateway_config(state_dir: Path, **ports: int) -> StackConfig:
    values = {
        "kafka_port": free_port(),
        "controller_port": free_port(),
        "redis_port": free_port(),
        "ingest_port": free_port(),
        "tracer_port": free_port(),
        "safety_map_port": free_port(),
        "public_port": free_port(),
        **ports,
    }
    return StackConfig(state_dir=state_dir, **values)


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory, stand_ins: dict[str, StandIn], pages: Path) -> Iterator[str]:
    """The gateway's address, in front of the stand-ins, serving `pages`."""
    cfg = gateway_config(
        tmp_path_factory.mktemp("gateway"),
        ingest_port=stand_ins["ingest"].port,
        tracer_port=stand_ins["tracer"].port,
        safety_map_port=stand_ins["safety-map"].port,
    )
    try:
        stack.start_gateway(cfg, web_root=pages)
        stack.wait_gateway_ready(cfg)
        yield cfg.public_url
    finally:
        stack.stop_all(cfg)


@pytest.fixture(scope="module")
def client(public: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=public, timeout=10, trust_env=False) as http:
        yield http


# --------------------------------------------------------------------------------------------------------
# routes


@pytest.mark.parametrize(
    ("method", "path", "service", "upstream_path"),
    [
        # the tracer: a venue's visitors and a case's contacts
        ("GET", "/v1/venues/v_1/visits?from=2021-09-01T00:00:00Z", "tracer", None),
        ("GET", "/v1/venues/v_1/visits.csv", "tracer", None),
        ("GET", "/v1/cases/F0-38-0001/contacts", "tracer", None),
        ("GET", "/v1/cases/F0-38-0001/contacts.csv", "tracer", None),
        # the tracer: the health-authority console's alerts and audit
        ("GET", "/v1/alerts?status=open&limit=20", "tracer", None),
        ("POST", "/v1/alerts/0b6f3c9e-1d2a-4c55-9f0e-2a7d8c1b4e6f/acknowledge", "tracer", None),
        ("GET", "/v1/audit?limit=50", "tracer", None),
        # the safety map: what the map knows of a venue, the map's own paths
        ("GET", "/v1/venues/v_1/risk", "safety-map", None),
        ("GET", "/v1/venues/v_1/occupancy", "safety-map", None),
        ("POST", "/v1/venues/v_1/self-assessment", "safety-map", None),
        ("POST", "/v1/venues/v_1/clearance", "safety-map", None),
        ("GET", "/v1/map/venues.geojson?bbox=102,8,110,24&level=3,4", "safety-map", None),
        ("GET", "/v1/map/venues/v_1", "safety-map", None),
        ("GET", "/v1/areas", "safety-map", None),
        ("PUT", "/v1/areas", "safety-map", None),
        ("GET", "/v1/areas/14755/risk", "safety-map", None),
        ("GET", "/v1/self-assessment/checklist?lang=en", "safety-map", None),
        ("GET", "/map", "safety-map", "/"),
        ("GET", "/map?lang=en", "safety-map", "/?lang=en"),
        ("GET", "/static/app.js", "safety-map", None),
        ("GET", "/static/vendor/leaflet/leaflet.js", "safety-map", None),
        # ingest: every other API path, a venue's public view and its QR codes among them
        ("POST", "/v1/venues", "ingest", None),
        ("GET", "/v1/venues/v_1", "ingest", None),
        ("PATCH", "/v1/venues/v_1", "ingest", None),
        ("DELETE", "/v1/venues/v_1", "ingest", None),
        ("GET", "/v1/venues/v_1/qr.svg", "ingest", None),
        ("GET", "/v1/venues/v_1/poster.pdf", "ingest", None),
        ("GET", "/v1/venues/v_1/qr/rotating", "ingest", None),
        ("GET", "/v1/venues/v_1/visitsx", "ingest", None),
        ("GET", "/v1/venues/v_1/risk/more", "ingest", None),
        ("POST", "/v1/checkins", "ingest", None),
        ("POST", "/v1/checkins/batch", "ingest", None),
        ("POST", "/v1/cases", "ingest", None),
        ("POST", "/v1/declarations", "ingest", None),
        ("GET", "/v1/persons/pk_1", "ingest", None),
        ("GET", "/v1/areasx", "ingest", None),
        ("GET", "/v1/alertsx", "ingest", None),
        ("GET", "/v1/alerts/a_1/acknowledgex", "ingest", None),
        ("GET", "/v1/cases/F0-38-0001/contacts/streamx", "ingest", None),
    ],
)
def test_each_path_reaches_its_service(
    client: httpx.Client, method: str, path: str, service: str, upstream_path: str | None
) -> None:
    # When the path is asked of the gateway
    answer = client.request(method, path, content=b"{}" if method in ("POST", "PUT", "PATCH") else None)
    # Then the service it belongs to answers, asked for the same path (or the map's page for /map)
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert (seen["service"], seen["method"], seen["path"]) == (service, method, upstream_path or path)


def test_a_service_is_told_the_client_address_the_gateway_saw_never_one_the_client_sent(
    client: httpx.Client, public: str
) -> None:
    # Given a client that claims other addresses in every header a proxy might read
    forged = {"x-forwarded-for": "203.0.113.7, 10.0.0.1", "x-real-ip": "203.0.113.8", "forwarded": "for=203.0.113.9"}
    # When it asks for an API path
    seen = client.get("/v1/venues/v_1", headers=forged).json()
    # Then the service hears from the gateway's own source address, and of the client's real address only
    assert seen["peer"] == gateway.UPSTREAM_SOURCE
    assert seen["forwarded_for"] == ["127.0.0.1"]
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert "x-real-ip" not in seen["headers"]
    assert "forwarded" not in seen["headers"]
    # and the host it was asked for, so that the service's own links and redirects point at the gateway
    assert seen["headers"]["host"] == public.removeprefix("http://")


def test_a_body_larger_than_ingest_takes_reaches_it_and_one_beyond_every_service_is_refused_as_json(
    client: httpx.Client,
) -> None:
    # Given a batch upload of 3 MiB (ingest's own limit is 2 MiB: it decides, with its own error)
    seen = client.post("/v1/checkins/batch", content=b"x" * (3 * MIB)).json()
    assert seen["body_bytes"] == 3 * MIB
    # When a body is larger than any service takes (the map's area data, 8 MiB, is the largest)
    refused = client.put("/v1/areas", content=b"x" * (10 * MIB))
    # Then the gateway refuses it in the services' words
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/stream", "safety-map"),
        ("/v1/cases/F0-38-0001/contacts/stream", "tracer"),
        ("/v1/alerts/stream", "tracer"),
    ],
)
def test_server_sent_events_reach_the_client_as_they_are_sent(
    public: str, stand_ins: dict[str, StandIn], path: str, service: str
) -> None:
    # Given a stream whose service sends one event and then holds the connection open
    stand_ins[service].release.clear()
    started = time.monotonic()
    try:
        with httpx.stream("GET", f"{public}{path}", timeout=10, trust_env=False) as response:
            first = next(response.iter_raw())
            waited = time.monotonic() - started
    finally:
        stand_ins[service].release.set()
    # Then the event arrives at once, from the stream's service, not when it lets go of the connection (20 s later)
    assert response.status_code == 200
    assert first.startswith(b"retry: 3000\n"), first
    assert f": connected to {service}\n".encode() in first, first
    assert waited < 5, f"the first event took {waited:.1f}s through the gateway"


# --------------------------------------------------------------------------------------------------------
# the pages


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/landing.css", "text/css; charset=utf-8"),
        ("/app/i18n.js", "text/javascript; charset=utf-8"),
        ("/app/queue.mjs", "text/javascript; charset=utf-8"),
        ("/app/manifest.webmanifest", "application/manifest+json; charset=utf-8"),
        ("/c/icon.svg", "image/svg+xml; charset=utf-8"),
    ],
)
def test_pages_are_served_with_their_type_and_security_headers(
    client: httpx.Client, path: str, content_type: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert_page_headers(answer)


def assert_page_headers(answer: httpx.Response) -> None:
    policy = {
        directive.split(" ", 1)[0]: directive.split(" ", 1)[1]
        for directive in (part.strip() for part in answer.headers["content-security-policy"].split(";"))
    }
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, nothing from elsewhere
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/c/ANTOAN1.S.k1.abc.def", "/c/", "/c/a/b?x=1"])
def test_any_check_in_address_is_the_check_in_page(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert "<title>khai báo</title>" in answer.text
    assert_page_headers(answer)


def test_a_real_file_under_c_is_itself(client: httpx.Client) -> None:
    assert client.get("/c/readme.txt").text == "a real file under /c/"


@pytest.mark.parametrize("path", ["/.env", "/nothing-here.html", "/app/"])
def test_hidden_and_missing_files_are_not_found_with_the_same_headers(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "SECRET" not in answer.text
    assert_page_headers(answer)


def test_answers_of_the_services_do_not_get_the_pages_headers(client: httpx.Client) -> None:
    # A service sets its own (the map's page allows its tile server): a second policy would narrow it.
    answer = client.get("/map")
    assert "content-security-policy" not in answer.headers
    assert "x-content-type-options" not in answer.headers


# --------------------------------------------------------------------------------------------------------
# the gateway's own answers, process and configuration


def test_a_service_that_does_not_answer_is_a_json_error(tmp_path: Path) -> None:
    # Given a gateway with nothing listening behind it
    cfg = gateway_config(tmp_path)
    try:
        stack.start_gateway(cfg, web_root=tmp_path)
        stack.wait_gateway_ready(cfg)
        # When an API path is asked for
        answer = httpx.get(f"{cfg.public_url}/v1/venues/v_1", timeout=10, trust_env=False)
    finally:
        stack.stop_all(cfg)
    # Then the answer is the API's kind of error
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "service_unavailable"


def test_the_gateway_is_one_of_the_stacks_components(tmp_path: Path) -> None:
    # Given a gateway the stack started
    cfg = gateway_config(tmp_path)
    pages_a, pages_b = tmp_path / "a", tmp_path / "b"
    for pages, text in ((pages_a, "a"), (pages_b, "b")):
        pages.mkdir()
        (pages / "index.html").write_text(text)
    try:
        stack.start_gateway(cfg, web_root=pages_a)
        stack.wait_gateway_ready(cfg)
        pid = stack.running(cfg)[stack.GATEWAY]
        assert pid is not None
        assert httpx.get(f"{cfg.public_url}/", trust_env=False).text == "a"
        # When it is started again with another configuration, Then the running one takes it
        stack.start_gateway(cfg, web_root=pages_b)
        wait_for(lambda: httpx.get(f"{cfg.public_url}/", trust_env=False).text == "b", timeout=10, what="reload")
        assert stack.running(cfg)[stack.GATEWAY] == pid
    finally:
        stack.stop_all(cfg)
    # And stopping the stack stops it and frees its port
    assert stack.running(cfg)[stack.GATEWAY] is None
    assert not stack.port_in_use(cfg.public_port)


def test_the_gateway_runs_as_an_unprivileged_user() -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to start nginx as another user; as the user running it, it is the rest")
    # Given the local configuration rendered for a user who is not root, in a directory that user may enter
    # (pytest's own temporary directories are root's alone)
    with tempfile.TemporaryDirectory(prefix="antoan-gateway-") as place:
        top = Path(place)
        top.chmod(0o755)
        cfg = gateway_config(top / "state")
        cfg.gateway_dir.mkdir(parents=True)
        main, routes = gateway.render_local(cfg, ROOT, web_root=top / "pages")
        cfg.gateway_conf.write_text(main)
        cfg.gateway_routes.write_text(routes)
        for path in (cfg.state_dir, cfg.gateway_dir):
            path.chmod(0o777)
        argv = gateway.local_argv(stack.ensure_nginx(), cfg, euid=65534)
        assert "user root;" not in argv
        # (its output goes to a log file of its own, as the stack's log is the user's who runs the stack)
        log_path = top / "gateway.log"
        log_path.touch()
        os.chown(log_path, 65534, 65534)
        # When nobody starts it
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # Then it answers, writing only in its state directory
            def healthy() -> bool:
                assert process.poll() is None, log_path.read_text()
                try:
                    return httpx.get(f"{cfg.public_url}/healthz", trust_env=False).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, timeout=10, what="nginx started by nobody")
            assert (cfg.gateway_dir / "nginx.pid").is_file()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


@pytest.mark.parametrize("deployment", ["compose", "cluster"])
def test_the_routes_as_compose_and_the_cluster_render_them_load_in_nginx(tmp_path: Path, deployment: str) -> None:
    # Given the values compose or the cluster give the template (their service names resolved to loopback:
    # nginx resolves names while it loads, and none of theirs exists here)
    values = deployment_values(deployment)
    for name in ("ANTOAN_INGEST_UPSTREAM", "ANTOAN_TRACER_UPSTREAM", "ANTOAN_SAFETY_MAP_UPSTREAM"):
        values[name] = "127.0.0.1:" + values[name].rsplit(":", 1)[1]
    cfg = gateway_config(tmp_path)
    cfg.gateway_dir.mkdir(parents=True)
    template = (gateway.template_dir(ROOT) / gateway.ROUTES_TEMPLATE).read_text("utf-8")
    cfg.gateway_routes.write_text(gateway.render(template, values))
    cfg.gateway_conf.write_text(gateway.render_local(cfg, ROOT)[0])
    # When nginx tests the configuration, Then it takes it
    argv = gateway.local_argv(stack.ensure_nginx(), cfg)
    result = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


def deployment_values(deployment: str) -> dict[str, str]:
    """The ANTOAN_* variables docker-compose.yml or deploy/k8s/gateway.yaml give the gateway."""
    if deployment == "compose":
        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
        env = compose["services"]["gateway"]["environment"]
    else:
        manifests = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "gateway.yaml").read_text("utf-8")))
        deployment_doc = next(doc for doc in manifests if doc["kind"] == "Deployment")
        container = deployment_doc["spec"]["template"]["spec"]["containers"][0]
        env = {item["name"]: item["value"] for item in container["env"]}
    return {name: str(value) for name, value in env.items() if name.startswith("ANTOAN_")}
