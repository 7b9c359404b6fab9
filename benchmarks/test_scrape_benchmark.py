"""pytest-benchmark: reading one replica's /metrics page into the load run's counters, as the sampler does for
every replica every second while load runs (and the flush wait four times a second for the entry replicas).

Run: python -m pytest benchmarks/test_scrape_benchmark.py --benchmark-only
Pages: recorded from a real Tempo 2.10.8 and the real collector (tests/recorded/, tests/load_data/).
"""

from pathlib import Path

import pytest

from pytest_tracestack.load.scrape import counters_from_text

TESTS = Path(__file__).parents[1] / "tests"
PAGES = {
    "tempo-single-binary": TESTS / "recorded" / "tempo-2.10.8" / "metrics-full.txt",
    "tempo-distributor": TESTS / "recorded" / "tempo-2.10.8" / "distributed-under-load" / "distributor-0.metrics.txt",
    "tempo-ingester": TESTS / "recorded" / "tempo-2.10.8" / "distributed-under-load" / "ingester-0.metrics.txt",
    "otelcol-detailed": TESTS / "load_data" / "otelcol-0.129.0-metrics-detailed.txt",
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_counters_from_one_page(benchmark, page: str) -> None:
    text = PAGES[page].read_text()
    counters = benchmark(counters_from_text, text)
    benchmark.extra_info.update(lines=len(text.splitlines()), counters=len(counters))
    assert counters
