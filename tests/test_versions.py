"""One table of pinned versions (pytest_tracestack/versions.py): the package spells none of them elsewhere, the
built-in profiles and the docs agree with it, and one rule says which found version will do."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pytest_tracestack.versions import (
    CHARTS,
    HELM,
    KIND,
    KUBECTL,
    KUBERNETES,
    NGINX,
    OTELCOL,
    OTELCOL_STABLE,
    PINS,
    TEMPO,
    VERSITYGW,
    Accepted,
)

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pytest_tracestack"
TABLE = PACKAGE / "versions.py"
# A pinned version as a whole token: "v3.19.0" and "helm-v3.19.0" count, "1.27.4" is not "1.27".
SPELLED = re.compile("|".join(rf"(?<![\w.])v?{re.escape(pin.version)}(?!\w|\.\d)" for pin in PINS))


def _python_strings(path: Path) -> Iterator[tuple[int, str]]:
    """The string constants of a module that the code uses: docstrings are prose and left out."""
    tree = ast.parse(path.read_text())
    bodies = [
        node.body
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    docstrings = {id(body[0].value) for body in bodies if body and isinstance(body[0], ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def _data_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines of a YAML or JSON file without its comments (# ..., and JSON Schema's "$comment")."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.lstrip().startswith(("#", '"$comment"')):
            yield number, line.split(" #", 1)[0]


def spelled_outside_the_table(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*")):
        if path == TABLE or path.suffix not in (".py", ".yaml", ".json"):
            continue
        lines = _python_strings(path) if path.suffix == ".py" else _data_lines(path)
        # A measurement names the version it was recorded on; it is a fact, not a pin.
        found += [
            f"{path.relative_to(package.parent)}:{number}: {text.strip()[:100]}"
            for number, text in lines
            if SPELLED.search(text) and "recorded" not in text
        ]
    return found


def test_the_package_spells_no_pinned_version_outside_the_table() -> None:
    assert spelled_outside_the_table(PACKAGE) == [], "read these versions from pytest_tracestack/versions.py"


def test_the_check_finds_a_pinned_version_spelled_in_code_or_data_but_not_in_prose(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "tool.py").write_text(
        f'"""Written for helm {HELM.tag}."""\n\n'
        f'URL = "https://get.helm.sh/helm-{HELM.tag}"\n'
        f'NOTE = "81 % in a recorded Tempo {TEMPO.version} run"\n'
    )
    (package / "build.yaml").write_text(
        f"# pinned: {KIND.version}\nversion: {KIND.version}\nimage: nginx:{NGINX.version}.4\n"
    )
    assert spelled_outside_the_table(package) == [
        f"pkg/build.yaml:2: version: {KIND.version}",
        f"pkg/tool.py:3: https://get.helm.sh/helm-{HELM.tag}",
    ]


def _profiles() -> list[Path]:
    return sorted((REPO / "scenarios").glob("*.yaml")) + sorted((REPO / "examples").rglob("tracing/*.yaml"))


@pytest.mark.parametrize("path", _profiles(), ids=lambda path: path.stem)
def test_the_built_in_and_example_profiles_pin_the_tables_versions(path: Path) -> None:
    profile = yaml.safe_load(path.read_text())
    assert profile.get("tempo_version", TEMPO.version) == TEMPO.version
    if "tempo_image" in profile:
        assert profile["tempo_image"].endswith(f":{TEMPO.version}")
    charts = (profile.get("kubernetes") or {}).get("charts") or []
    for chart in charts:
        assert chart["version"] == CHARTS[chart["chart"]].version, chart
    if "chart_version" in profile:
        assert profile["chart_version"] == CHARTS["tempo-distributed"].version


@pytest.mark.parametrize(
    ("manifest", "image"),
    [
        ("nginx-otel/nginx.yaml", rf"nginx:{re.escape(NGINX.version)}\.\d+-otel"),
        ("s3/versitygw.yaml", rf"ghcr.io/versity/versitygw:{re.escape(VERSITYGW.tag)}"),
        ("collector/collector.yaml", rf"otel/opentelemetry-collector-contrib:{re.escape(OTELCOL.version)}"),
    ],
)
def test_the_manifests_run_the_pinned_nginx_and_versitygw(manifest: str, image: str) -> None:
    documents = yaml.safe_load_all((REPO / "manifests" / manifest).read_text())
    images = [
        container["image"]
        for document in documents
        if document and document.get("kind") == "Deployment"
        for container in document["spec"]["template"]["spec"]["containers"]
    ]
    assert images and all(re.fullmatch(image, found) for found in images), images


# How the docs and the workflows to copy write a pinned version (the accepted minimums are written without "v").
DOC_SPELLINGS = {
    r"\bkind v(\d+\.\d+\.\d+)|/dl/v(\d+\.\d+\.\d+)/kind-": KIND,
    r"kindest/node:v(\d+\.\d+\.\d+)": KUBERNETES,
    r"\bkubectl v(\d+\.\d+\.\d+)|/release/v(\d+\.\d+\.\d+)/bin/": KUBECTL,
    r"\bhelm[ @-]v(\d+\.\d+\.\d+)|version\.version=v(\d+\.\d+\.\d+)": HELM,
    r"\bversitygw[ :]v?(\d+\.\d+\.\d+)": VERSITYGW,
    # a chart's name whole: `tempo` is not the start of `tempo-distributed`
    **{rf"(?<![\w-]){name}(?![\w-])[^\n]*?(?:--version |\*\*)(\d+\.\d+\.\d+)": pin for name, pin in CHARTS.items()},
}
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / ".github").rglob("*.yml")),
    *sorted(path for path in (REPO / "examples").rglob("*") if path.suffix in (".md", ".yml", ".yaml")),
]


def test_the_docs_and_workflows_spell_the_pinned_versions() -> None:
    spelled, stale = 0, []
    for path in DOCS:
        text = path.read_text()
        for pattern, pin in DOC_SPELLINGS.items():
            for match in re.finditer(pattern, text):
                version = next(group for group in match.groups() if group)
                spelled += 1
                if version != pin.version:
                    stale.append(
                        f"{path.relative_to(REPO)}: {match.group(0)!r}, but {pin.name} is pinned at {pin.version}"
                    )
    assert stale == [] and spelled >= len(DOC_SPELLINGS)


@pytest.mark.parametrize(
    ("accepted", "version", "admitted"),
    [
        (Accepted("3.18.5", "4.0.0"), "3.18.5", True),
        (Accepted("3.18.5", "4.0.0"), "v3.19.1+g1234abc", True),
        (Accepted("3.18.5", "4.0.0"), "3.17.3", False),
        (Accepted("3.18.5", "4.0.0"), "4.0.0", False),
        (Accepted("1.31.0"), "Client Version: v1.30.14", False),
        (Accepted("1.31.0"), "1.31", True),
        (Accepted.same_major("2.10.8"), "2.9.1", True),
        (Accepted.same_major("2.10.8"), "3.0.3", False),
        (Accepted.same_major("2.10.8"), "1.9.0", False),
        (Accepted("1.29"), "", False),
    ],
)
def test_one_rule_says_which_found_version_will_do(accepted: Accepted, version: str, admitted: bool) -> None:
    assert accepted.admits(version) is admitted


def test_the_tools_and_the_binaries_follow_the_table() -> None:
    from pytest_tracestack.binaries.finder import SPECS
    from pytest_tracestack.binaries.kube_tools import TOOLS
    from pytest_tracestack.binaries.ocb import builder_manifest

    assert {name: (spec.version, spec.accepted) for name, spec in TOOLS.items()} == {
        pin.name: (pin.tag, pin.accepted) for pin in (KIND, KUBECTL, HELM)
    }
    assert {kind: SPECS[kind].version for kind in ("tempo", "otelcol", "nginx", "versitygw")} == {
        "tempo": TEMPO.version,
        "otelcol": OTELCOL.version,
        "nginx": NGINX.version,
        "versitygw": VERSITYGW.version,
    }
    manifest = builder_manifest()
    modules = [entry["gomod"] for key, entries in manifest.items() if key != "dist" for entry in entries]
    assert manifest["dist"]["version"] == SPECS["otelcol"].version
    pinned = {f"v{OTELCOL.version}", f"v{OTELCOL_STABLE.version}"}
    assert modules and all(module.rsplit(" ", 1)[1] in pinned for module in modules), modules
