"""The tests run in any clone: none reads outside the repository (a user's clone has no ../shared and no
/work). Data a test needs is copied into tests/ (tests/recorded/README.md says from where)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
OUTSIDE = re.compile(r"""\.\./shared|["']shared["']|/work/|["']/tmp/""")  # /tmp/...: one machine's build
PARENTS = re.compile(r"\.parents\[(\d+)\]")


def outside_references(text: str, depth: int) -> list[int]:
    """Numbers of the lines that point outside the repository: ../shared, /work and /tmp paths, or
    ``Path(__file__)``'s parents above the root, for a file ``depth`` parts below it (tests/x.py: 2, so
    parents[2] is outside)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        above_root = "__file__" in line and any(int(k) >= depth for k in PARENTS.findall(line))
        if OUTSIDE.search(line) or above_root:
            found.append(number)
    return found


def test_no_test_reads_outside_the_repository() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        lines = path.read_text().splitlines()
        found += [
            f"{path.relative_to(REPO)}:{number}: {lines[number - 1].strip()}"
            for number in outside_references(path.read_text(), len(path.relative_to(REPO).parts))
        ]
    assert found == [], (
        "tests refer to data outside the repository; copy it into tests/ (with a README line "
        "saying where and which version it came from):\n" + "\n".join(found)
    )


def test_the_check_sees_each_way_out() -> None:
    text = (
        'A = Path(__file__).resolve().parents[2] / "x"\n'  # tests/doubles/x.py: the root, fine
        'B = Path(__file__).resolve().parents[3] / "x"\n'  # above it
        'C = Path("/work/shared/fixtures/x")\n'
        'D = ROOT / ".." / "shared"\n'
        'E = Path(__file__).with_name("recorded")\n'
        'F = Path(os.environ.get("TRACESTACK_OTELCOL", "/tmp/ocbtest/out/otelcol-tracestack"))\n'
    )
    assert outside_references(text, depth=3) == [2, 3, 4, 6]


def test_a_skip_says_its_reason_in_the_summary_without_dash_rs(pytester: pytest.Pytester) -> None:
    """The project's own pytest settings (pyproject.toml) print each skip's reason, so a user learns what to
    install from a plain `python -m pytest`."""
    pytester.makepyfile(
        test_skips="import pytest\n\n"
        "def test_needs_helm():\n"
        '    pytest.skip("needs helm on PATH (https://helm.sh/docs/intro/install/)")\n'
    )
    result = pytester.runpytest("-c", str(REPO / "pyproject.toml"), "--rootdir", str(pytester.path), "test_skips.py")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] test_skips.py:4: needs helm on PATH (https://helm.sh/docs/intro/install/)"]
    )
