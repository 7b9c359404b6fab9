"""The README's tables of options and of pinned versions are the ones the code defines (regenerate: python -m
pytest_tracestack.plugin.docs)."""

from pathlib import Path

from pytest_tracestack.plugin.docs import BEGIN, END, PINS_BEGIN, PINS_END, options_table, pins_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_options_table_matches_the_parser() -> None:
    text = README.read_text()
    current = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert current == options_table(), "README options table is stale: paste `python -m pytest_tracestack.plugin.docs`"


def test_readme_pinned_versions_table_matches_the_table_the_code_reads() -> None:
    text = README.read_text()
    current = text[text.index(PINS_BEGIN) : text.index(PINS_END) + len(PINS_END)]
    assert current == pins_table(), "README pinned versions are stale: paste `python -m pytest_tracestack.plugin.docs`"
