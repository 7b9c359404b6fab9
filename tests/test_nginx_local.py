"""The local runtime's nginx against a real nginx (Debian's, without the otel module): the config it renders
from the nginx-otel manifest, a root run that becomes ready, teardown, and nginx's own error lines when it
does not start or does not become ready. `nginx -t` checks the full rendering where the otel module exists."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from nginx_without_otel_for_tests import (
    TEST_ONLY_NOTE,
    launch_nginx_without_otel_for_tests,
    render_without_otel_for_tests,
    use_in_local_runtime,
)
from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.binaries.nginx_build import NginxBuild, parse_nginx_v, read_nginx_build
from pytest_tracestack.configs.rendering import ReplicaContext, extract_config, resolve_manifest
from pytest_tracestack.errors import ComponentExited, ProfileError, ReadinessTimeout, UnavailableError
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.base import Replica
from pytest_tracestack.runtimes.local import privileged_ports
from pytest_tracestack.runtimes.local.launchers import LAUNCHERS
from pytest_tracestack.runtimes.local.nginx_config import find_otel_module, render_nginx_conf
from pytest_tracestack.runtimes.local.privileged_ports import refuse_privileged_ports, unprivileged_port_start
from pytest_tracestack.runtimes.local.process import port_open
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

SCENARIOS = Path(__file__).parent / "scenarios"
# `nginx -V` of Debian 12's nginx 1.22.1-9+deb12u11 (apt-get install nginx), cc/ld options shortened.
DEBIAN_V = """nginx version: nginx/1.22.1
built with OpenSSL 3.0.22 25 Aug 2026 (running with OpenSSL 3.0.19 27 Jan 2026)
TLS SNI support enabled
configure arguments: --with-cc-opt='-g -O2 -fPIC' --with-ld-opt='-Wl,-z,relro' --prefix=/usr/share/nginx \
--conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log --error-log-path=stderr \
--lock-path=/var/lock/nginx.lock --pid-path=/run/nginx.pid --modules-path=/usr/lib/nginx/modules \
--http-client-body-temp-path=/var/lib/nginx/body --http-fastcgi-temp-path=/var/lib/nginx/fastcgi \
--http-proxy-temp-path=/var/lib/nginx/proxy --http-scgi-temp-path=/var/lib/nginx/scgi \
--http-uwsgi-temp-path=/var/lib/nginx/uwsgi --with-compat --with-debug --with-http_ssl_module
"""
# What nginx's configure records for a source build with only a prefix: nginx.conf under <prefix>/conf.
SOURCE_V = """nginx version: nginx/1.28.3
built by gcc 12.2.0 (Debian 12.2.0-14)
configure arguments: --prefix=/opt/nginx --with-compat --without-http_fastcgi_module
"""


@pytest.fixture(scope="module")
def nginx_binary() -> Path:
    explicit = os.environ.get("TRACESTACK_NGINX")
    # Debian installs nginx in /usr/sbin, which a user's PATH often leaves out.
    found = explicit or shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")
    if not found:
        pytest.skip("no nginx: apt-get install nginx (Debian's nginx, no otel module, runs these tests)")
    return Path(found)


def _runtime(nginx: Path, **kwargs) -> LocalRuntime:
    provider = BinaryProvider(explicit={"nginx": str(nginx)}, allow_download=False)
    return LocalRuntime(LocalSettings(binaries=provider, ready_timeout_s=kwargs.pop("ready_timeout_s", 30), **kwargs))


def _context(tmp_path: Path, replica: Replica) -> ReplicaContext:
    workdir = tmp_path / "nginx-0"
    workdir.mkdir()
    return ReplicaContext(
        address=replica.address,
        ports=replica.ports,
        workdir=workdir,
        stackdir=tmp_path,
        instance_id=replica.name,
        endpoint=lambda component, port: "127.0.1.1:4317",
        peers=lambda component, port: ["127.0.1.1:4317"],
    )


def _rendering_inputs(tmp_path: Path):
    component = load_profile("nginx-otel").components["nginx"]
    replica = Replica("nginx", 0, "127.0.3.1", {"http": 80})
    return extract_config(component.config), component, replica, _context(tmp_path, replica)


def _pids_in_group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getpgid(int(entry.name)) == pgid:
                pids.append(int(entry.name))
        except ProcessLookupError:
            pass
    return pids


def _uid(pid: int) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
    return int(line.split()[1])


# --- what `nginx -V` says --------------------------------------------------------------------------------------


def test_debians_build_names_its_conf_dir_and_the_temp_dirs_compiled_into_it() -> None:
    build = parse_nginx_v(Path("/usr/sbin/nginx"), DEBIAN_V)
    assert (build.version, build.conf_dir, build.conf_path_given) == ("1.22.1", Path("/etc/nginx"), True)
    assert build.temp_paths == {
        "client_body_temp_path": Path("/var/lib/nginx/body"),
        "proxy_temp_path": Path("/var/lib/nginx/proxy"),
        "fastcgi_temp_path": Path("/var/lib/nginx/fastcgi"),
        "uwsgi_temp_path": Path("/var/lib/nginx/uwsgi"),
        "scgi_temp_path": Path("/var/lib/nginx/scgi"),
    }


def test_a_source_build_keeps_its_conf_under_the_prefix_and_its_temp_dirs_relative() -> None:
    build = parse_nginx_v(Path("/opt/nginx/sbin/nginx"), SOURCE_V)
    assert (build.version, build.conf_path, build.conf_path_given) == (
        "1.28.3",
        Path("/opt/nginx/conf/nginx.conf"),
        False,
    )
    assert build.temp_paths == {}
    assert "nginx's default conf/nginx.conf under --prefix = /opt/nginx/conf/nginx.conf" in build.conf_path_source()


def test_the_real_binary_is_read(nginx_binary: Path) -> None:
    build = read_nginx_build(nginx_binary)
    version = subprocess.run([str(nginx_binary), "-v"], capture_output=True, text=True).stderr
    assert build.version and f"nginx/{build.version}" in version
    assert build.conf_path.is_absolute()


# --- the rendering ---------------------------------------------------------------------------------------------


def test_the_images_includes_resolve_in_the_binarys_conf_dir_and_a_missing_one_is_said(tmp_path: Path) -> None:
    conf, component, replica, context = _rendering_inputs(tmp_path)
    (tmp_path / "conf").mkdir()
    build = NginxBuild(Path("/opt/nginx/sbin/nginx"), "1.28.3", tmp_path / "conf" / "nginx.conf", False)
    text = render_nginx_conf(conf, component, replica, context, build, Path("/opt/nginx/modules/ngx_otel_module.so"))
    assert f"include       {tmp_path}/conf/mime.types;" in text
    assert "include       /etc/nginx/" not in text
    assert (
        f"# local runtime: include /etc/nginx/mime.types -> {tmp_path}/conf/mime.types, this nginx's conf dir "
        f"(/opt/nginx/sbin/nginx -V: nginx's default conf/nginx.conf under --prefix = {tmp_path}/conf/nginx.conf);"
        " it is not there, so nginx refuses to start and its own error line says so" in text
    )
    (tmp_path / "conf" / "mime.types").write_text("types {}\n")
    again = render_nginx_conf(conf, component, replica, context, build, Path("/m/ngx_otel_module.so"))
    assert "mime.types, this nginx's conf dir" in again and "it is not there" not in again


def test_a_root_run_names_the_work_dirs_owner_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf, component, replica, context = _rendering_inputs(tmp_path)
    build = parse_nginx_v(Path("/usr/sbin/nginx"), DEBIAN_V)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    text = render_nginx_conf(conf, component, replica, context, build, Path("/m/ngx_otel_module.so"))
    stat = context.workdir.stat()
    owner = f"{pwd.getpwuid(stat.st_uid).pw_name} {grp.getgrgid(stat.st_gid).gr_name}"
    assert f"\nuser {owner};\n" in text and "user    nginx;" not in text
    assert f"# local runtime: run as root: `user {owner};` (the work dir's owner)" in text
    assert "answer 403" in text
    for directive, name in [("client_body_temp_path", "client_body_temp"), ("proxy_temp_path", "proxy_temp")]:
        assert f"    {directive} {context.workdir}/{name};\n" in text
    assert "load_module /m/ngx_otel_module.so;" in text and "endpoint 127.0.1.1:4317;" in text
    assert "error_log stderr notice;" in text and "listen 127.0.3.1:80;" in text


def test_a_run_that_is_not_root_leaves_the_user_line_out_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf, component, replica, context = _rendering_inputs(tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    text = render_nginx_conf(
        conf, component, replica, context, parse_nginx_v(Path("nginx"), SOURCE_V), Path("/m/ngx_otel_module.so")
    )
    assert "\nuser " not in text and "user    nginx;" not in text
    assert "# local runtime: the seed's `user nginx;` is left out: nginx ignores `user` unless started as root" in text
    assert "temp_path" not in text  # a source build's temp dirs are relative to the prefix: the work dir


# --- a real nginx ----------------------------------------------------------------------------------------------


def test_the_test_only_and_the_full_rendering_pass_nginx_t(nginx_binary: Path, tmp_path: Path) -> None:
    conf, component, replica, context = _rendering_inputs(tmp_path)
    build = read_nginx_build(nginx_binary)
    test_only = render_without_otel_for_tests(conf, component, replica, context, build)
    assert TEST_ONLY_NOTE in test_only and "otel_" not in test_only.split(TEST_ONLY_NOTE)[1]
    _nginx_t(nginx_binary, context.workdir, test_only)
    try:
        module = find_otel_module(None)
    except UnavailableError as error:
        pytest.skip(f"the full rendering needs the NGINX otel module ({error})")
    _nginx_t(nginx_binary, context.workdir, render_nginx_conf(conf, component, replica, context, build, module))


def _nginx_t(nginx: Path, workdir: Path, text: str) -> None:
    path = workdir / "nginx.conf"
    path.write_text(text)
    done = subprocess.run(
        [str(nginx), "-t", "-p", str(workdir), "-c", str(path), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a root run needs root (CI runs as root)")
def test_a_root_run_becomes_ready_serves_from_the_work_dir_and_leaves_nothing(
    nginx_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_in_local_runtime(monkeypatch)
    runtime = _runtime(nginx_binary)
    stack = runtime.start(load_profile("lone-nginx", [SCENARIOS]))
    replica = stack.first("nginx")
    try:
        workdir = stack.workdir
        response = httpx.get(replica.url("http", "/"), timeout=5)
        assert (response.status_code, response.text) == (200, "<html><body>tracestack</body></html>\n")
        assert replica.address.startswith("127.") and replica.address != "127.0.0.1"
        group = _pids_in_group(replica.pid)
        workers = [pid for pid in group if pid != replica.pid]
        assert workers and all(_uid(pid) == workdir.stat().st_uid for pid in workers)
        replica_dir = workdir / "nginx-0"
        assert '"GET / HTTP/1.1" 200' in (replica_dir / "access.log").read_text()
        assert (replica_dir / "client_body_temp").is_dir() or not read_nginx_build(nginx_binary).temp_paths
    finally:
        runtime.stop(stack)
    assert not any(Path(f"/proc/{pid}").exists() for pid in group)
    assert not port_open(replica.address, replica.ports["http"])
    assert not workdir.exists()


def test_a_missing_include_is_reported_with_nginxs_own_error_line(
    nginx_binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_in_local_runtime(monkeypatch)
    profile = load_profile("lone-nginx", [SCENARIOS])
    manifest = tmp_path / "nginx.yaml"
    text = resolve_manifest(profile.components["nginx"].config.manifest).read_text()
    manifest.write_text(
        text.replace(
            "include       /etc/nginx/mime.types;", "include       /etc/nginx/tracestack-missing-for-tests.types;"
        )
    )
    profile_file = tmp_path / "missing-include.yaml"
    profile_file.write_text(
        (SCENARIOS / "lone-nginx.yaml")
        .read_text()
        .replace("name: lone-nginx", "name: missing-include")
        .replace("manifest: builtin:nginx-otel/nginx.yaml", f"manifest: {manifest}")
    )
    runtime = _runtime(nginx_binary, report_dir=tmp_path / "report")
    with pytest.raises(ComponentExited) as raised:
        runtime.start(load_profile("missing-include", [tmp_path]))
    expected = (
        "[emerg] ",
        f'open() "{read_nginx_build(nginx_binary).conf_dir}/tracestack-missing-for-tests.types" '
        f"failed (2: No such file or directory) in ",
    )
    message = str(raised.value)
    assert "nginx-0 exited while waiting for" in message
    assert all(part in message for part in expected), message
    assert expected[1] in (tmp_path / "report" / "logs" / "nginx-0.log").read_text()


def test_an_nginx_that_never_becomes_ready_is_told_from_one_that_exited_with_its_error_log(
    nginx_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def without_index(component, replica, config, context, binary, settings):
        launch = launch_nginx_without_otel_for_tests(component, replica, config, context, binary, settings)
        (context.workdir / "html" / "index.html").unlink()  # GET / now answers 403 for ever
        return launch

    use_in_local_runtime(monkeypatch)
    monkeypatch.setitem(LAUNCHERS, "nginx", without_index)
    with pytest.raises(ReadinessTimeout) as raised:
        _runtime(nginx_binary, ready_timeout_s=3).start(load_profile("lone-nginx", [SCENARIOS]))
    message = str(raised.value)
    assert not isinstance(raised.value, ComponentExited)
    assert "nginx-0 not ready after 3s: " in message and "last said HTTP 403" in message
    assert "[error] " in message and '/html/" is forbidden' in message, message


# --- a user other than root ------------------------------------------------------------------------------------

# Run in a process of a user other than root: the nginx-otel profile's own nginx component (its ports, manifest and
# local notes) in a one-component profile, or the same with the ports given; started by the local runtime with the
# test-only rendering. Prints the replica's URL, what GET / answered and the rendered header, or the error.
AS_ANOTHER_USER = """
import dataclasses, json, sys
from pathlib import Path

import httpx, pytest

tests, nginx, ports = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, str(tests))
from nginx_without_otel_for_tests import use_in_local_runtime
from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

use_in_local_runtime(pytest.MonkeyPatch())
product = load_profile("nginx-otel").components["nginx"]
nginx_component = dataclasses.replace(product, ports=ports) if ports else product
profile = dataclasses.replace(load_profile("lone-nginx", [tests / "scenarios"]), components={"nginx": nginx_component})
runtime = LocalRuntime(LocalSettings(binaries=BinaryProvider(explicit={"nginx": nginx}, allow_download=False),
                                     ready_timeout_s=30))
try:
    stack = runtime.start(profile)
except TracestackError as error:
    print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
    sys.exit(0)
try:
    url = stack.first("nginx").url("http", "/")
    header = [line for line in (stack.workdir / "nginx-0" / "nginx.conf").read_text().splitlines() if line[:1] == "#"]
    print(json.dumps({"url": url, "status": httpx.get(url, timeout=5).status_code, "header": header}))
finally:
    runtime.stop(stack)
"""


@pytest.fixture
def as_another_user(tmp_path: Path):
    """Runs AS_ANOTHER_USER as the user running the tests when that is not root, else as `nobody` (setpriv)."""
    prefix: list[str] = []
    home = tmp_path
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running nginx as a user other than root needs setpriv (apt-get install util-linux)")
        nobody = pwd.getpwnam("nobody")
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        home = Path(tempfile.mkdtemp(prefix="tracestack-as-nobody-", dir="/tmp"))  # pytest's tmp is root's only
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(home), "TRACESTACK_CACHE_DIR": str(home)}
    tests = str(Path(__file__).parent)
    imports = f"import sys; sys.path.insert(0, {tests!r}); import pytest_tracestack, nginx_without_otel_for_tests"
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", imports], env=env, capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        pytest.skip(f"the other user cannot import this checkout or its virtualenv: {probe.stderr.splitlines()[-1:]}")

    def run(nginx: Path, ports: dict[str, int] | None = None) -> dict:
        command = [*prefix, sys.executable, "-c", AS_ANOTHER_USER, tests, str(nginx), json.dumps(ports or {})]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    yield run
    if home != tmp_path:
        shutil.rmtree(home, ignore_errors=True)


def test_the_nginx_otel_profiles_nginx_runs_for_a_user_other_than_root(nginx_binary: Path, as_another_user) -> None:
    answer = as_another_user(nginx_binary)
    assert answer.get("status") == 200, answer
    assert re.fullmatch(r"http://127\.\d+\.\d+\.\d+:8080/", answer["url"])
    assert (
        "# local runtime: listens on port 8080 instead of the manifest's 80: only root may listen below 1024 "
        "(net.ipv4.ip_unprivileged_port_start), and nginx runs as the user running the tests"
    ) in answer["header"]
    assert f"# local runtime: listens on {answer['url'][7:-1]}; pid, access log and html root are under " in "\n".join(
        answer["header"]
    )


def test_a_privileged_port_for_a_user_other_than_root_is_refused_naming_the_key(
    nginx_binary: Path, as_another_user
) -> None:
    answer = as_another_user(nginx_binary, {"http": 80})
    start = unprivileged_port_start()
    if start <= 80:
        pytest.skip(f"net.ipv4.ip_unprivileged_port_start is {start} here: every user may listen on 80")
    uid = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert answer == {
        "error": f"ProfileError: {SCENARIOS / 'lone-nginx.yaml'}: components.nginx.ports.http: 80 is "
        f"below {start} (net.ipv4.ip_unprivileged_port_start), where only root may listen, and "
        f"the tests run as uid {uid}: give it a port of {start} or more (the local runtime "
        "renders the config with it; kind and cluster keep the manifest's), or run as root"
    }


def test_root_and_a_lowered_sysctl_may_use_a_privileged_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = load_profile("nginx-otel")
    replicas = [Replica("nginx", 0, "127.0.3.1", {"http": 80})]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    sysctl = tmp_path / "ip_unprivileged_port_start"
    monkeypatch.setattr(privileged_ports, "SYSCTL", sysctl)
    sysctl.write_text("1024\n")
    with pytest.raises(ProfileError, match=r"components\.nginx\.ports\.http: 80 is below 1024 "):
        refuse_privileged_ports(profile, replicas, {})
    sysctl.write_text("80\n")
    refuse_privileged_ports(profile, replicas, {})
    sysctl.write_text("1024\n")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    refuse_privileged_ports(profile, replicas, {})
