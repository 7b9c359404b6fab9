"""TEST-ONLY NGINX RENDERING WITHOUT THE OTEL MODULE — not reachable from any product option.

Debian's nginx has no OpenTelemetry module, and the product refuses to start nginx without one. This renders
the nginx-otel manifest with the product's own local adaptation (address, paths, user, includes, temp dirs)
and then removes the otel module's directives, so the tests run everything else against a real nginx. It
proves nothing about the otel module: `test_nginx_local.py` runs `nginx -t` on the full rendering where the
module is installed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pytest_tracestack.binaries.nginx_build import NginxBuild, read_nginx_build
from pytest_tracestack.configs.rendering import ReplicaContext
from pytest_tracestack.profiles.profile import Component
from pytest_tracestack.runtimes.base import Replica
from pytest_tracestack.runtimes.local import runtime
from pytest_tracestack.runtimes.local.launchers import LAUNCHERS, Launch, nginx_launch
from pytest_tracestack.runtimes.local.nginx_config import adapt_for_local_process, nginx_header

OTEL_LOAD = re.compile(r"^[ \t]*load_module\s+\S*ngx_otel_module\.so;[^\n]*\n", re.MULTILINE)
OTEL_BLOCK = re.compile(r"^[ \t]*otel_\w+\s*\{[^}]*\}[^\n]*\n", re.MULTILINE)
OTEL_DIRECTIVE = re.compile(r"^[ \t]*otel_\w+\s[^;{]*;[^\n]*\n", re.MULTILINE)
TEST_ONLY_NOTE = (
    "TEST-ONLY rendering without the otel module's directives (tests/nginx_without_otel_for_tests.py): "
    "no spans leave this nginx"
)


def render_without_otel_for_tests(
    conf: str, component: Component, replica: Replica, context: ReplicaContext, build: NginxBuild
) -> str:
    conf, notes = adapt_for_local_process(conf, replica, context, build)
    removed = 0
    for pattern in (OTEL_LOAD, OTEL_BLOCK, OTEL_DIRECTIVE):
        conf, count = pattern.subn("", conf)
        removed += count
    assert removed, "the manifest has no otel directives left to remove: update this test-only rendering"
    return nginx_header(component, build, [*notes, TEST_ONLY_NOTE]) + conf


def launch_nginx_without_otel_for_tests(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    conf = render_without_otel_for_tests(config, component, replica, context, read_nginx_build(binary))
    return nginx_launch(replica, context, binary, conf)


def use_in_local_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """For one test: the local runtime starts nginx with this rendering and does not ask for the module."""
    monkeypatch.setitem(LAUNCHERS, "nginx", launch_nginx_without_otel_for_tests)
    monkeypatch.setattr(runtime, "find_otel_module", lambda explicit: None)
