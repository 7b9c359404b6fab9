"""What an nginx binary was built with (`nginx -V`): its version, where it looks for its configuration, and the
temp directories compiled into it. The local runtime renders the seed's config against these."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tracestack.errors import UnavailableError

DEFAULT_PREFIX = "/usr/local/nginx"  # nginx's configure default when --prefix is not given
DEFAULT_CONF_PATH = "conf/nginx.conf"  # relative to the prefix when --conf-path is not given

# configure option naming a temp directory -> (the directive that moves it, the module that has the directive)
TEMP_PATH_OPTIONS = {
    "--http-client-body-temp-path": ("client_body_temp_path", ""),
    "--http-proxy-temp-path": ("proxy_temp_path", "http_proxy"),
    "--http-fastcgi-temp-path": ("fastcgi_temp_path", "http_fastcgi"),
    "--http-uwsgi-temp-path": ("uwsgi_temp_path", "http_uwsgi"),
    "--http-scgi-temp-path": ("scgi_temp_path", "http_scgi"),
}


@dataclass(frozen=True)
class NginxBuild:
    binary: Path
    version: str  # "" when `nginx -V` did not say
    conf_path: Path  # absolute
    conf_path_given: bool  # False: nginx's default under the prefix, not a --conf-path option
    temp_paths: dict[str, Path] = field(default_factory=dict)  # directive -> compiled-in absolute directory

    @property
    def conf_dir(self) -> Path:
        return self.conf_path.parent

    def conf_path_source(self) -> str:
        how = "--conf-path" if self.conf_path_given else "nginx's default conf/nginx.conf under --prefix"
        return f"{self.binary} -V: {how} = {self.conf_path}"


def read_nginx_build(binary: Path) -> NginxBuild:
    try:
        done = subprocess.run([str(binary), "-V"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UnavailableError(
            f"{binary} -V could not be run ({error}); pass a working nginx with --tracestack-nginx=PATH"
        ) from error
    if done.returncode != 0:
        raise UnavailableError(f"{binary} -V exited with {done.returncode}: {(done.stderr or done.stdout).strip()}")
    return parse_nginx_v(binary, done.stderr + done.stdout)  # nginx prints -V on stderr


def parse_nginx_v(binary: Path, text: str) -> NginxBuild:
    version = re.search(r"nginx version: [^/\s]+/(\S+)", text)
    options, disabled = _configure_arguments(text)
    prefix = Path(options.get("--prefix", DEFAULT_PREFIX))
    conf_path = prefix / options.get("--conf-path", DEFAULT_CONF_PATH)  # an absolute --conf-path wins
    temp_paths = {
        directive: Path(options[option])
        for option, (directive, module) in TEMP_PATH_OPTIONS.items()
        if Path(options.get(option, "")).is_absolute() and module not in disabled
    }
    return NginxBuild(binary, version.group(1) if version else "", conf_path, "--conf-path" in options, temp_paths)


def _configure_arguments(text: str) -> tuple[dict[str, str], set[str]]:
    """``--name=value`` options and the modules turned off with ``--without-<module>_module``."""
    line = next((line for line in text.splitlines() if line.startswith("configure arguments:")), "")
    words = shlex.split(line.removeprefix("configure arguments:"))
    options = dict(word.split("=", 1) for word in words if word.startswith("--") and "=" in word)
    disabled = {
        word.removeprefix("--without-").removesuffix("_module") for word in words if word.startswith("--without-")
    }
    return options, disabled
