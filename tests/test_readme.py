"""The README's options table is the one the parser defines (regenerate: python -m pytest_tracestack.docs)."""

from pathlib import Path

from pytest_tracestack.docs import BEGIN, END, options_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_options_table_matches_the_parser() -> None:
    text = README.read_text()
    current = text[text.index(BEGIN): text.index(END) + len(END)]
    assert current == options_table(), "README options table is stale: paste `python -m pytest_tracestack.docs`"
