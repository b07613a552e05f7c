"""The public gateway's nginx configuration: one template of routes for the local stack, compose and a cluster.

`deploy/gateway/antoan.conf.template` holds the routes with `${ANTOAN_*}` placeholders, which envsubst fills in:
the nginx image does it in compose and on a cluster, `render` does it here for the local stack and refuses a
placeholder it has no value for. `deploy/gateway/nginx.conf.template` is the local stack's main configuration
around them (the image brings its own). The stack starts and stops the process (`stack.start_gateway`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the stack runs the gateway: it imports this module
    from antoan_localstack.stack import StackConfig

ROUTES_TEMPLATE = "antoan.conf.template"
MAIN_TEMPLATE = "nginx.conf.template"
# The address the local gateway connects to the services from, and so the one address whose forwarded headers
# they believe (ANTOAN_TRUSTED_PROXIES): a program on the machine that talks to a service directly comes from
# 127.0.0.1 and cannot name the address its rate limit is counted on.
UPSTREAM_SOURCE = "127.0.0.2"

# envsubst's `${NAME}`; nginx's own variables are lower case and never braced here, so they are left alone.
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# What nginx would read as something else in an unquoted value: a variable, a quote, the end of a directive.
_UNSAFE_VALUE = re.compile(r"[\s\"';{}$\\#]")


class TemplateError(ValueError):
    """A gateway template could not be rendered: a placeholder without a value, or a value nginx would misread."""


def template_dir(root: Path) -> Path:
    return root / "deploy" / "gateway"


def placeholders(text: str) -> set[str]:
    """The `${NAME}` placeholders of a template."""
    return set(_PLACEHOLDER.findall(text))


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with every `${NAME}` replaced by `values[NAME]`, as envsubst would; a missing one is an error."""
    missing = placeholders(text) - set(values)
    if missing:
        raise TemplateError(f"no value for {', '.join(sorted(missing))}")
    for name in placeholders(text):
        if _UNSAFE_VALUE.search(values[name]):
            raise TemplateError(f"{name}={values[name]!r}: nginx cannot take spaces, quotes, $, ;, # or braces here")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def local_route_values(cfg: StackConfig, web_root: Path) -> dict[str, str]:
    """The routes' values for the local stack: everything on loopback, the checkout's web/public."""

    def address(component: str) -> str:
        return cfg.service_url(component).removeprefix("http://")

    return {
        "ANTOAN_GATEWAY_LISTEN": address("gateway"),
        "ANTOAN_INGEST_UPSTREAM": address("ingest"),
        "ANTOAN_TRACER_UPSTREAM": address("tracer"),
        "ANTOAN_SAFETY_MAP_UPSTREAM": address("safety-map"),
        "ANTOAN_GATEWAY_PROXY_BIND": UPSTREAM_SOURCE,
        "ANTOAN_WEB_ROOT": str(web_root),
    }


def local_main_values(cfg: StackConfig) -> dict[str, str]:
    """The local main configuration's values: its state under the stack's directory, the routes beside it."""
    return {"ANTOAN_GATEWAY_STATE": str(cfg.gateway_dir), "ANTOAN_GATEWAY_ROUTES": str(cfg.gateway_routes)}


def local_argv(nginx: str, cfg: StackConfig, euid: int | None = None) -> list[str]:
    """How the local stack runs nginx: its own prefix and configuration, errors on stderr (the stack's log)."""
    argv = [nginx, "-p", f"{cfg.gateway_dir}/", "-c", str(cfg.gateway_conf), "-e", "stderr"]
    if (os.geteuid() if euid is None else euid) == 0:
        # Started by root, nginx hands its workers to `nobody`, who can neither read the checkout nor write the
        # state directory; the stack's other processes run as root then too. Otherwise it runs as its starter.
        argv += ["-g", "user root;"]
    return argv


def render_local(cfg: StackConfig, root: Path, web_root: Path | None = None) -> tuple[str, str]:
    """(main configuration, routes) of the local stack's gateway, from the templates in the checkout `root`;
    the pages come from `web_root`, by default the checkout's web/public."""
    templates = template_dir(root)
    try:
        main = (templates / MAIN_TEMPLATE).read_text("utf-8")
        routes = (templates / ROUTES_TEMPLATE).read_text("utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read the gateway's templates in {templates}: {exc}") from exc
    pages = web_root if web_root is not None else root / "web" / "public"
    return render(main, local_main_values(cfg)), render(routes, local_route_values(cfg, pages))


CLUSTER_MANIFEST = Path("deploy") / "k8s" / "gateway.yaml"
_CLUSTER_ROUTES_KEY = "  default.conf.template: |\n"


def cluster_manifest_with_routes(manifest: str, routes: str) -> str:
    """The cluster's manifest with its ConfigMap's copy of the routes (the first document) replaced by `routes`."""
    start = manifest.index(_CLUSTER_ROUTES_KEY) + len(_CLUSTER_ROUTES_KEY)
    end = manifest.index("\n---\n", start) + 1
    block = "".join(f"    {line}" if line.strip() else "\n" for line in routes.splitlines(keepends=True))
    return manifest[:start] + block + manifest[end:]


def main() -> int:
    """`python -m antoan_localstack.gateway`: copy the routes template into the cluster's manifest."""
    from antoan_localstack.stack import repo_root

    root = repo_root()
    path = root / CLUSTER_MANIFEST
    routes = (template_dir(root) / ROUTES_TEMPLATE).read_text("utf-8")
    path.write_text(cluster_manifest_with_routes(path.read_text("utf-8"), routes), "utf-8")
    print(f"{CLUSTER_MANIFEST}: its ConfigMap holds {template_dir(Path()) / ROUTES_TEMPLATE} again")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
