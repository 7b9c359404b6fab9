"""The seed's nginx.conf adapted to a local process: its own address, paths under the work dir, a user that can
read the work dir, includes from this nginx's own conf dir, the collector's local endpoint, and the otel module
loaded from where it is installed on this machine."""

from __future__ import annotations

import grp
import os
import pwd
import re
from pathlib import Path

from pytest_tracestack.binaries.nginx_build import NginxBuild
from pytest_tracestack.configs.rendering import ReplicaContext
from pytest_tracestack.errors import UnavailableError
from pytest_tracestack.profiles.file_paths import describe
from pytest_tracestack.profiles.profile import Component
from pytest_tracestack.runtimes.base import Replica

MODULE_DIRS = (
    "/usr/lib/nginx/modules",
    "/usr/share/nginx/modules",
    "/etc/nginx/modules",
    "/usr/local/nginx/modules",
    "/usr/lib64/nginx/modules",
)
MODULE_NAME = "ngx_otel_module.so"
IMAGE_CONF_DIR = "/etc/nginx/"  # where the official image keeps mime.types and friends

USER_LINE = re.compile(r"^[ \t]*user\s+[^;]*;[^\n]*\n?", re.MULTILINE)
INCLUDE = re.compile(r"^([ \t]*include\s+)([^;\s]+)(\s*;)", re.MULTILINE)
HTTP_BLOCK = re.compile(r"^([ \t]*)http\s*\{[^\n]*\n", re.MULTILINE)


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
        "the official nginx:<version>-otel image."
    )


def render_nginx_conf(
    conf: str, component: Component, replica: Replica, context: ReplicaContext, build: NginxBuild, module: Path
) -> str:
    conf, notes = adapt_for_local_process(conf, replica, context, build)
    collector = context.endpoint("otel-collector", "otlp-grpc")
    conf = re.sub(r"load_module\s+\S*ngx_otel_module\.so;", f"load_module {module};", conf)
    conf = re.sub(r"endpoint\s+[^;]+;", f"endpoint {collector};", conf)
    notes.append(f"the otel module is loaded from {module}; spans go to the local collector at {collector}")
    return nginx_header(component, build, notes) + conf


def adapt_for_local_process(
    conf: str, replica: Replica, context: ReplicaContext, build: NginxBuild
) -> tuple[str, list[str]]:
    """Everything but the otel module: the config and the notes the rendered header carries about it."""
    workdir = context.workdir
    replacements = [
        (r"error_log\s+\S+", "error_log stderr"),
        (r"pid\s+\S+;", f"pid {workdir}/nginx.pid;"),
        (r"access_log\s+\S+", f"access_log {workdir}/access.log"),
        (r"listen\s+80;", f"listen {replica.hostport('http')};"),
        (r"root\s+/usr/share/nginx/html;", f"root {_html_root(workdir)};"),
    ]
    for pattern, replacement in replacements:
        conf = re.sub(pattern, replacement, conf, flags=re.MULTILINE)
    notes = [
        f"listens on {replica.hostport('http')}; pid, access log and html root are under {workdir}",
        "error_log goes to stderr, as the official image links its error.log to /dev/stderr: nginx's own "
        "errors are in this replica's log and in tracestack's diagnostics",
    ]
    conf, user_note = _user(conf, workdir)
    conf, include_notes = _includes(conf, build)
    conf, temp_notes = _temp_paths(conf, workdir, build)
    return conf, [*notes, user_note, *include_notes, *temp_notes]


def nginx_header(component: Component, build: NginxBuild, notes: list[str]) -> str:
    source = component.config
    origin = "the profile"
    if source:
        origin = f"{describe(source.manifest)} ({source.kind} {source.name})"
    lines = [
        f"# Rendered by pytest-tracestack for the local runtime from {origin},",
        f"# for nginx {build.version or '(version unknown)'} at {build.binary}.",
    ]
    lines += [f"# local runtime: {note}" for note in (*component.local_notes, *notes)]
    return "\n".join(lines) + "\n"


def _user(conf: str, workdir: Path) -> tuple[str, str]:
    if os.geteuid() != 0:
        return USER_LINE.sub("", conf), (
            "the seed's `user nginx;` is left out: nginx ignores `user` unless "
            "started as root, so its workers run as the user running the tests, "
            "who owns the work dir"
        )
    owner = _owner(workdir)
    # Without a `user` line a root master runs its workers as `nobody`, who cannot enter the private work dir.
    note = (
        f"run as root: `user {owner};` (the work dir's owner) instead of the seed's `user nginx;`. The work dir "
        f"is private to its owner and holds every component's config (possibly secrets), so the workers run as "
        f"its owner, as they do when the tests do not run as root, rather than opening it to other users; "
        f"without it the workers would run as nobody and answer 403 to everything. They listen on loopback only."
    )
    line = f"user {owner};\n"
    conf, replaced = USER_LINE.subn(line, conf, count=1)
    return (conf if replaced else line + conf), note


def _owner(workdir: Path) -> str:
    """``user group`` of the work dir, as nginx's `user` directive takes them."""
    stat = workdir.stat()
    user = pwd.getpwuid(stat.st_uid).pw_name
    try:
        return f"{user} {grp.getgrgid(stat.st_gid).gr_name}"
    except KeyError:
        return user


def _includes(conf: str, build: NginxBuild) -> tuple[str, list[str]]:
    """Includes of the image's conf dir (or relative to it) point into this nginx's own conf dir."""
    notes: list[str] = []

    def resolve(match: re.Match) -> str:
        original = match.group(2)
        relative = original.removeprefix(IMAGE_CONF_DIR)
        if Path(relative).is_absolute():
            return match.group(0)
        resolved = build.conf_dir / relative
        missing = (
            ""
            if _matches_something(resolved)
            else "; it is not there, so nginx refuses to start and its own error line says so"
        )
        notes.append(f"include {original} -> {resolved}, this nginx's conf dir ({build.conf_path_source()}){missing}")
        return f"{match.group(1)}{resolved}{match.group(3)}"

    return INCLUDE.sub(resolve, conf), notes


def _matches_something(path: Path) -> bool:
    if any(char in str(path) for char in "*?["):
        return True  # nginx accepts a pattern that matches no file
    return path.is_file()


def _temp_paths(conf: str, workdir: Path, build: NginxBuild) -> tuple[str, list[str]]:
    """Temp directories compiled in as absolute paths (Debian: /var/lib/nginx) move to the work dir: a root
    nginx would otherwise create and chown them there, and any other user could not write them."""
    if not build.temp_paths:
        return conf, []
    match = HTTP_BLOCK.search(conf)
    if match is None:
        return conf, []
    indent = match.group(1) + "    "
    lines = "".join(
        f"{indent}{directive} {workdir / directive.removesuffix('_path')};\n" for directive in build.temp_paths
    )
    conf = conf[: match.end()] + lines + conf[match.end() :]
    moved = ", ".join(f"{path}" for path in build.temp_paths.values())
    return conf, [f"temp directories compiled into this nginx ({moved}) are under the work dir instead"]


def _html_root(workdir: Path) -> Path:
    root = workdir / "html"
    root.mkdir(exist_ok=True)
    (root / "index.html").write_text("<html><body>tracestack</body></html>\n")
    return root
