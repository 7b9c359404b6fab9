"""The seed's nginx.conf adapted to a local process: its own address, paths under the work dir, the
collector's local endpoint, and the otel module loaded from where it is installed on this machine."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UnavailableError
from ..rendering import ReplicaContext
from .base import Replica

MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/etc/nginx/modules",
               "/usr/local/nginx/modules", "/usr/lib64/nginx/modules")
MODULE_NAME = "ngx_otel_module.so"


def find_otel_module(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UnavailableError(f"--tracestack-nginx-otel-module = {explicit}: no such file")
        return path
    for directory in MODULE_DIRS:
        candidate = Path(directory) / MODULE_NAME
        if candidate.is_file():
            return candidate
    raise UnavailableError(
        f"the NGINX OpenTelemetry module ({MODULE_NAME}) is not installed; looked in {', '.join(MODULE_DIRS)}. "
        "Install nginx.org's nginx-module-otel package (it matches nginx.org's nginx builds), or pass "
        "--tracestack-nginx-otel-module=PATH, or run this profile with --tracestack-runtime=kind, which uses "
        "the official nginx:<version>-otel image.")


def render_nginx_conf(conf: str, replica: Replica, context: ReplicaContext, module: str | None) -> str:
    module_path = find_otel_module(module)
    collector = context.endpoint("otel-collector", "otlp-grpc")
    workdir = context.workdir
    replacements = [
        (r"load_module\s+\S*ngx_otel_module\.so;", f"load_module {module_path};"),
        (r"^\s*user\s+\S+;\s*$", ""),
        (r"error_log\s+\S+", f"error_log {workdir}/error.log"),
        (r"pid\s+\S+;", f"pid {workdir}/nginx.pid;"),
        (r"access_log\s+\S+", f"access_log {workdir}/access.log"),
        (r"endpoint\s+[^;]+;", f"endpoint {collector};"),
        (r"listen\s+80;", f"listen {replica.hostport('http')};"),
        (r"root\s+/usr/share/nginx/html;", f"root {_html_root(workdir)};"),
    ]
    for pattern, replacement in replacements:
        conf = re.sub(pattern, replacement, conf, flags=re.MULTILINE)
    header = "# Rendered by pytest-tracestack from manifests/nginx-otel/nginx.yaml for the local runtime\n"
    return header + conf


def _html_root(workdir: Path) -> Path:
    root = workdir / "html"
    root.mkdir(exist_ok=True)
    (root / "index.html").write_text("<html><body>tracestack</body></html>\n")
    return root
