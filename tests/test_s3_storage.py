"""The S3 parts of the S3-backed profiles, for real against versitygw: the server started on its own address with
credentials generated for the run (in its environment, masked everywhere), the bucket made through the S3 API
before Tempo starts, and the backend-storage check's listing of Tempo's blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from leftovers import listening_sockets, tracestack_processes, tracestack_sockets
from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.checks.backend import wait_for_new_blocks
from pytest_tracestack.clients.object_store import ObjectStoreError, S3Settings, list_blocks, make_bucket, s3_client
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.profile import load_profile_file
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"

ONLY_S3 = """
name: only-s3
description: the S3 server of the S3 profiles, alone (tests only)
components:
  s3:
    binary: versitygw
    ports: {s3: 7070}
    readiness: "http:s3/health"
    credentials: {access_key: ROOT_ACCESS_KEY, secret_key: ROOT_SECRET_KEY}
ingest: {}
query: {kind: sink}
checks: [roundtrip]
"""


@pytest.fixture
def s3_stack(versitygw_binary: Path, tmp_path: Path):
    """versitygw started by the local runtime as a profile's component; stopped (logs saved to tmp_path/report)."""
    profile_file = tmp_path / "only-s3.yaml"
    profile_file.write_text(ONLY_S3)
    runtime = LocalRuntime(
        LocalSettings(BinaryProvider(explicit={"versitygw": str(versitygw_binary)}), report_dir=tmp_path / "report")
    )
    stack = runtime.start(load_profile_file(profile_file))
    try:
        yield stack
    finally:
        runtime.stop(stack)


def _settings(stack, bucket: str = "tempo-traces", **changes) -> S3Settings:
    replica = stack.first("s3")
    values = {
        "endpoint": replica.hostport("s3"),
        "bucket": bucket,
        "insecure": True,
        "access_key": stack.credentials.get("s3", "access_key"),
        "secret_key": stack.credentials.get("s3", "secret_key"),
        **changes,
    }
    return S3Settings(**values)


def test_the_server_runs_on_its_own_address_with_credentials_of_the_run_in_its_environment(s3_stack) -> None:
    replica = s3_stack.first("s3")
    access, secret = s3_stack.credentials.get("s3", "access_key"), s3_stack.credentials.get("s3", "secret_key")
    assert replica.address.startswith("127.") and replica.address != "127.0.0.1"
    assert len({access, secret}) == 2 and all(len(value) == 32 for value in (access, secret))
    argv = Path(f"/proc/{replica.pid}/cmdline").read_bytes()
    environment = Path(f"/proc/{replica.pid}/environ").read_bytes().split(b"\0")
    assert access.encode() not in argv and secret.encode() not in argv
    assert f"ROOT_ACCESS_KEY={access}".encode() in environment and f"ROOT_SECRET_KEY={secret}".encode() in environment


def test_the_bucket_is_made_once_through_the_s3_api(s3_stack) -> None:
    settings = _settings(s3_stack)
    assert make_bucket(settings) is True
    assert make_bucket(settings) is False  # already there: no error, a Tempo replica after the first
    assert list_blocks(settings) == {}
    names = [bucket["Name"] for bucket in s3_client(settings).list_buckets()["Buckets"]]
    assert names == ["tempo-traces"]


def test_wrong_credentials_are_refused_without_showing_any(s3_stack) -> None:
    make_bucket(_settings(s3_stack))
    wrong = "not-the-secret-of-this-run-0123456789"
    with pytest.raises(
        ObjectStoreError,
        match=r"could not list single-tenant/ in bucket tempo-traces at "
        r"http://127\.[0-9.]+:7070: SignatureDoesNotMatch",
    ) as raised:
        list_blocks(_settings(s3_stack, secret_key=wrong))
    assert wrong not in str(raised.value) and s3_stack.credentials.get("s3", "secret_key") not in str(raised.value)
    with pytest.raises(ObjectStoreError, match=r"could not make bucket tempo-traces at http://127\.0\.0\.1:1: "):
        make_bucket(_settings(s3_stack, endpoint="127.0.0.1:1"))


def test_blocks_are_listed_under_the_tenants_prefix_and_complete_once_meta_json_is_there(s3_stack) -> None:
    settings = _settings(s3_stack, prefix="traces")
    make_bucket(settings)
    client = s3_client(settings)
    for key in (
        "traces/single-tenant/block-a/data.parquet",
        "traces/single-tenant/block-a/meta.json",
        "traces/single-tenant/block-b/data.parquet",
        "traces/single-tenant/index.json.gz",
        "traces/other-tenant/block-c/meta.json",
        "single-tenant/block-d/meta.json",
    ):
        client.put_object(Bucket="tempo-traces", Key=key, Body=b"x")
    blocks = list_blocks(settings)
    assert sorted(blocks) == ["block-a", "block-b"]
    assert blocks["block-a"].objects == ("data.parquet", "meta.json") and blocks["block-a"].complete
    assert blocks["block-b"].objects == ("data.parquet",) and not blocks["block-b"].complete


def test_the_check_waits_for_a_new_complete_block_and_says_what_the_bucket_holds(s3_stack) -> None:
    settings = _settings(s3_stack)
    make_bucket(settings)
    client = s3_client(settings)
    client.put_object(Bucket="tempo-traces", Key="single-tenant/old/meta.json", Body=b"{}")
    before = set(list_blocks(settings))
    client.put_object(Bucket="tempo-traces", Key="single-tenant/new/data.parquet", Body=b"x")
    with pytest.raises(
        AssertionError,
        match=r"no new complete block \(with meta.json\) under single-tenant/ of "
        r"bucket tempo-traces at http://127.*within 1s of the flush; the "
        r"bucket holds 2 block\(s\), 1 new, incomplete: new \(data.parquet\)",
    ):
        wait_for_new_blocks(settings, before, deadline_s=1.0)
    client.put_object(Bucket="tempo-traces", Key="single-tenant/new/meta.json", Body=b"{}")
    seen = wait_for_new_blocks(settings, before, deadline_s=5.0)
    assert [block.block_id for block in seen.blocks] == ["new"]


def test_the_servers_log_is_kept_with_no_credential_in_it(versitygw_binary: Path, tmp_path: Path) -> None:
    profile_file = tmp_path / "only-s3.yaml"
    profile_file.write_text(ONLY_S3)
    runtime = LocalRuntime(
        LocalSettings(BinaryProvider(explicit={"versitygw": str(versitygw_binary)}), report_dir=tmp_path / "report")
    )
    stack = runtime.start(load_profile_file(profile_file))
    credentials = list(stack.credentials.values.values())
    try:
        settings = _settings(stack)
        make_bucket(settings)
        # The secret in a request the server logs (its request line shows the path), as a leaky client would send it
        s3_client(settings).put_object(Bucket="tempo-traces", Key=f"leak/{credentials[1]}", Body=b"x")
    finally:
        runtime.stop(stack)
    log = (tmp_path / "report" / "logs" / "s3-0.log").read_text()
    assert "PUT | /tempo-traces/leak/***" in log
    assert not any(value in log for value in credentials)


def test_without_a_start_order_tempo_is_refused_before_it_starts_naming_the_bucket(
    versitygw_binary: Path, tmp_path: Path
) -> None:
    before = listening_sockets()
    profile_file = tmp_path / "no-order.yaml"
    profile_file.write_text(
        "name: no-order\nextends: manifest-s3\ndescription: S3 and Tempo at once (tests only)\n"
        "components:\n  tempo:\n    after: []\n"
    )
    runtime = LocalRuntime(
        LocalSettings(BinaryProvider(explicit={"versitygw": str(versitygw_binary), "tempo": str(DOUBLE)}))
    )
    with pytest.raises(
        TracestackError,
        match=r"tempo-0: could not make bucket tempo-traces at http://127\.[0-9.]+:7070"
        r": .*the S3 server must answer before Tempo starts \(a component the "
        r"Tempo components name in 'after'",
    ):
        runtime.start(load_profile_file(profile_file))
    assert tracestack_processes() == [] and tracestack_sockets(before) == set()
