"""Loopback blocks: one stack per block at a time on this machine, and a block's 127.0.0.1 ports free."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pytest_tracestack.runtimes.local.addresses import choose_block


@pytest.fixture(autouse=True)
def own_lock_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path / "cache"))


def test_a_block_held_by_one_stack_is_never_given_to_another() -> None:
    # the same worker name in one process shuffles the blocks in the same order: only the lock tells them apart
    first = choose_block([4317], worker="same")
    second = choose_block([4317], worker="same")
    assert first.number != second.number
    first.release()
    assert choose_block([4317], worker="same").number == first.number


def test_a_block_whose_127_0_0_1_port_is_taken_is_passed_over() -> None:
    first = choose_block([], localhost_slots=1, worker="same")
    port = first.localhost_port(0)
    first.release()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        second = choose_block([], localhost_slots=1, worker="same")
    assert second.number != first.number
