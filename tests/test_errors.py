"""errors.add_note: the note reaches ``__notes__`` on Python 3.10 (no BaseException.add_note) as on 3.11+."""

from __future__ import annotations

import sys

import pytest

from pytest_tracestack.errors import TracestackError, add_note


@pytest.mark.parametrize("version", [(3, 10, 0, "final", 0), tuple(sys.version_info)], ids=["3.10", "this python"])
def test_notes_are_kept_in_order_where_tracebacks_read_them(monkeypatch: pytest.MonkeyPatch, version: tuple) -> None:
    error = TracestackError("the install failed")
    monkeypatch.setattr(sys, "version_info", version)
    add_note(error, "left running in namespace tracestack-t1")
    add_note(error, "stop it with: tracestack stop /tmp/x")
    monkeypatch.undo()
    assert error.__notes__ == ["left running in namespace tracestack-t1", "stop it with: tracestack stop /tmp/x"]


def test_pytest_shows_a_note_added_the_3_10_way(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import sys
        from pytest_tracestack.errors import TracestackError, add_note

        def test_fails(monkeypatch):
            error = TracestackError("the install failed")
            monkeypatch.setattr(sys, "version_info", (3, 10, 0, "final", 0))
            add_note(error, "NOTE: remove it with helm uninstall")
            monkeypatch.undo()
            raise error
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*NOTE: remove it with helm uninstall*"])
