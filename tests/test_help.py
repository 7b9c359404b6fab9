"""What `pytest --help` and `tracestack --help` tell a new user: the options as the README's table shows them
(one definition, pytest_tracestack/plugin/options.py), every argument described, advice spelled as the command in use
spells its options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_tracestack.cli import main
from pytest_tracestack.plugin.options import OPTIONS


def test_pytest_help_shows_each_option_and_its_default_as_the_readme_table_does(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines([f"  {spec.usage}*" for spec in OPTIONS], consecutive=False)
    result.stdout.no_fnmatch_line("*=TRACESTACK_*")  # argparse's made-up metavars
    help_text = " ".join(" ".join(result.outlines).split())  # argparse wraps lines anywhere
    for spec in OPTIONS:
        if spec.default is not None and not spec.flag:
            assert f"{spec.help} [default: {spec.default}; env {spec.env}]" in help_text, spec.name


def _tracestack(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _positionals(text: str) -> list[str]:
    """The lines of the 'positional arguments:' section."""
    section = text.split("positional arguments:\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()


@pytest.mark.parametrize("command", [(), ("install",), ("status",), ("stop",)])
def test_tracestack_help_is_plain_text_and_describes_every_argument(capsys, command: tuple[str, ...]) -> None:
    code, text = _tracestack(capsys, *command, "--help")
    assert code == 0
    assert "``" not in text
    lines = _positionals(text)
    names = [line for line in lines if re.fullmatch(r"  \S+", line)]
    assert names in ([], ["  COMMAND"]), f"arguments without a description: {names}"
    if command == ("install",):
        assert re.search(r"BINARY +one of nginx, otelcol, prometheus, tempo", text)
    elif command:
        assert re.search(r"DIR +the work dir --tracestack-keep printed", text)


def test_install_advises_its_own_download_option(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path / "cache"))
    code, text = _tracestack(capsys, "install", "tempo", "--no-download")
    assert code == 1
    assert "download: disabled (--no-download)" in text
    assert "mirror the release and pass --download-base=URL" in text
    assert "--tracestack-download-base" not in text


def test_install_lists_only_what_it_consulted_and_honours_the_env_var(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACESTACK_TEMPO", raising=False)
    code, text = _tracestack(capsys, "install", "tempo", "--no-download")
    assert code == 1
    assert "  - TRACESTACK_TEMPO: not set\n" in text
    assert "--tracestack-tempo /" not in text  # a pytest option the command cannot read
    given = tmp_path / "my-tempo"
    given.write_text("#!/bin/sh\necho 'tempo, version 2.10.8 (branch: HEAD)'\n")
    given.chmod(0o755)
    monkeypatch.setenv("TRACESTACK_TEMPO", str(given))
    code, text = _tracestack(capsys, "install", "tempo", "--no-download")
    assert (code, text) == (0, f"tempo: {given} (2.10.8, explicit path)\n")
    monkeypatch.setenv("TRACESTACK_TEMPO", str(tmp_path / "nothing-here"))
    code, text = _tracestack(capsys, "install", "tempo", "--no-download")
    assert code == 1 and f"TRACESTACK_TEMPO = {tmp_path}/nothing-here: no executable file there" in text


def test_install_takes_the_mirror_from_the_same_variable_as_pytest(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRACESTACK_DOWNLOAD_BASE", "http://127.0.0.1:9")  # nothing listens on the discard port
    code, text = _tracestack(capsys, "install", "tempo")
    assert code == 1
    assert "download http://127.0.0.1:9/grafana/tempo/releases/download/v" in text
