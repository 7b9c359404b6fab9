"""A load run as data: LoadSpec (what run_load takes) and LocustEnv, the one place that writes and reads the
TRACESTACK_* variables a Locust run gets. Plain `locust -f loadtests/locustfile.py` with those variables is run for
real in test_load_locust.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.load.locust_env import VARIABLES, LocustEnv
from pytest_tracestack.load.rates import Rate
from pytest_tracestack.load.spec import LoadSpec

REPO = Path(__file__).resolve().parents[1]
ONE_PLACE = REPO / "pytest_tracestack" / "load" / "locust_env.py"


def test_the_variables_a_user_of_plain_locust_sets_are_read_as_documented() -> None:
    read = LocustEnv.from_env(
        {
            "TRACESTACK_LOAD_PROTOCOL": "otlp-http",
            "TRACESTACK_LOAD_RATE": "5MB/s",
            "TRACESTACK_TRACES_PER_REQUEST": "3",
            "TRACESTACK_LOAD_IN_FLIGHT": "8",
            "TRACESTACK_OTLP_HTTP": " http://a:4318 ,http://b:4318",
            "TRACESTACK_OTLP_GRPC": "c:4317",
            "TRACESTACK_LOAD_FAILURES": "f.json",
            "TRACESTACK_LOAD_STEPS": "1MB/s,2MB/s",
            "TRACESTACK_LOAD_STEP_SECONDS": "3",
            "TRACESTACK_LOAD_USERS": "2",
            "HOME": "/root",
        }
    )
    assert read == LocustEnv(
        "otlp-http", "5MB/s", "3", 8, ("c:4317",), ("http://a:4318", "http://b:4318"), "f.json", "1MB/s,2MB/s", "3", "2"
    )
    assert (
        LocustEnv.from_env({})
        == LocustEnv()
        == LocustEnv("otlp-grpc", "1MB/s", "10", 32, (), (), None, None, "20", "4")
    )
    assert LocustEnv.from_env({"TRACESTACK_LOAD_STEPS": ""}).steps == "", "set but empty still turns the shape on"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"TRACESTACK_LOAD_PROTOCOL": "zipkin"}, "TRACESTACK_LOAD_PROTOCOL='zipkin': write otlp-grpc or otlp-http"),
        ({"TRACESTACK_LOAD_IN_FLIGHT": "0"}, "TRACESTACK_LOAD_IN_FLIGHT='0': write a whole number of requests"),
    ],
)
def test_a_bad_protocol_or_in_flight_is_refused_naming_the_variable(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LocustEnv.from_env(variables)


def test_what_is_written_is_read_back_and_replaces_what_the_parent_had() -> None:
    settings = LocustEnv("otlp-grpc", "2500B/s", "5", 4, ("127.0.0.2:4317", "127.0.0.3:4317"), (), "r/f.json")
    assert LocustEnv.from_env(settings.to_env()) == settings
    parent = {
        "PATH": "/bin",
        "TRACESTACK_LOAD_STEPS": "1MB/s,9MB/s",
        "TRACESTACK_OTLP_HTTP": "http://old:4318",
        "TRACESTACK_LOAD_RATE": "9MB/s",
        "TRACESTACK_PROFILE": "distributed",
    }
    applied = settings.applied_to(parent)
    assert applied["PATH"] == "/bin" and applied["TRACESTACK_PROFILE"] == "distributed"
    assert "TRACESTACK_LOAD_STEPS" not in applied and "TRACESTACK_OTLP_HTTP" not in applied
    assert LocustEnv.from_env(applied) == settings


def test_a_load_spec_tells_locust_its_rate_targets_and_failures_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACESTACK_LOAD_IN_FLIGHT", "7")  # the default under pytest too, as the README says
    spec = LoadSpec.of("2MB/s", "8s", "otlp-http", tmp_path, traffic="10MB/s", traces_per_request=3)
    assert (spec.rate, spec.duration_s, spec.traffic, spec.in_flight) == (
        Rate(2e6, "bytes"),
        8.0,
        Rate(1e7, "bytes"),
        7,
    )
    assert spec.locust_env(["http://127.0.0.2:4318/v1/traces"]) == LocustEnv(
        "otlp-http",
        "2000000B/s",
        "3",
        7,
        (),
        ("http://127.0.0.2:4318/v1/traces",),
        str(tmp_path / "locust_failures.json"),
    )
    assert LoadSpec.of("1MB/s", "1s", "otlp-grpc", tmp_path, in_flight=2).locust_env(["a:1"]).grpc_targets == ("a:1",)


def test_a_load_spec_refuses_a_protocol_locust_does_not_push(tmp_path: Path) -> None:
    with pytest.raises(TracestackError, match="load protocol 'zipkin': write one of otlp-grpc, otlp-http"):
        LoadSpec.of("1MB/s", "1s", "zipkin", tmp_path)


def _strings(path: Path) -> set[str]:
    """The string constants of a module's code (docstrings, which document the variables, are left out)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_only_locust_env_spells_the_variables_locust_reads() -> None:
    spelled = {
        f"{path.relative_to(REPO)}: {text}"
        for path in [*REPO.joinpath("pytest_tracestack").rglob("*.py"), *REPO.joinpath("loadtests").rglob("*.py")]
        if path != ONE_PLACE
        for text in _strings(path)
        if any(name in text for name in VARIABLES)
    }
    assert spelled == set()
