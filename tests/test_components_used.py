"""Which components a run used: the version each reported (Tempo's recorded /api/status/buildinfo answer), and
'real' kept for what tracestack fetched or built itself."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_tracestack.binaries.finder import FoundBinary, Obtained
from pytest_tracestack.plugin.components_used import components_used
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.base import Replica, Stack
from recorded_tempo import RECORDED

TEMPO_3_BUILD = json.loads((RECORDED / "tempo-3.0.3" / "buildinfo.body").read_text())


def _stack(profile: str, runtime: str = "local", **binaries: str) -> Stack:
    loaded = load_profile(profile)
    stack = Stack(loaded, runtime, binaries=binaries)
    component = loaded.query.component
    if component:
        stack.replicas.append(Replica(component, 0, "127.0.0.1", {"http": 3100}))
    return stack


def test_tempo_is_named_by_its_buildinfo_with_the_profiles_version_beside_it() -> None:
    tempo = FoundBinary(
        "tempo",
        Path("/opt/tempo"),
        "3.0.3",
        "PATH (tempo)",
        "tempo, version 3.0.3 (branch: HEAD)",
        obtained=Obtained.PATH,
    )
    [used] = components_used(_stack("manifest", tempo="/opt/tempo"), {"tempo": tempo}, TEMPO_3_BUILD)
    assert used.describe() == (
        "tempo v3.0.3 (/api/status/buildinfo at http://127.0.0.1:3100; /opt/tempo; "
        "PATH (tempo); not verified by tracestack; the profile says tempo_version 2.10.8)"
    )
    assert used.real is False


def test_on_kubernetes_tempos_buildinfo_is_the_version_that_ran() -> None:
    stack = _stack("manifest", "kind", kubectl="/usr/bin/kubectl")
    used = components_used(stack, {}, {"version": "v2.10.7"})
    assert [entry.describe() for entry in used] == [
        "kubectl (version not reported) (tool, version not asked; /usr/bin/kubectl; kind runtime tool; not verified by "
        "tracestack)",
        "tempo v2.10.7 (/api/status/buildinfo at http://127.0.0.1:3100; tempo through http://127.0.0.1:3100; image "
        "deployed by the kind runtime; not verified by tracestack; the profile says tempo_version 2.10.8)",
    ]


def test_a_tempo_that_does_not_answer_buildinfo_is_named_by_its_binary_and_the_reason() -> None:
    tempo = FoundBinary(
        "tempo",
        Path("/opt/tempo"),
        "2.10.8",
        "explicit path",
        "tempo, version 2.10.8 (FAKE)",
        obtained=Obtained.EXPLICIT,
    )
    [used] = components_used(_stack("manifest", tempo="/opt/tempo"), {"tempo": tempo}, "HTTP 404 '404 page not found'")
    assert used.version == "2.10.8" and used.said == "tempo, version 2.10.8 (FAKE)"
    assert "as /api/status/buildinfo failed: HTTP 404" in used.describe() and not used.note


def test_only_what_tracestack_fetched_or_built_is_real() -> None:
    stack = _stack("collector", **{"otelcol": "x", "capture-sink": "in-process OTLP gRPC/HTTP server"})
    for source, obtained, real in [
        ("built with OCB", Obtained.BUILT, True),
        ("downloaded from https://x/y.tar.gz, SHA-256 verified", Obtained.DOWNLOADED, True),
        ("tracestack cache", Obtained.CACHE, True),
        ("PATH (otelcol-contrib)", Obtained.PATH, False),
        ("explicit path", Obtained.EXPLICIT, False),
    ]:
        collector = FoundBinary(
            "otelcol", Path("/bin/otelcol"), "0.129.0", source, "otelcol-contrib version 0.129.0", obtained=obtained
        )
        sink, otelcol = components_used(stack, {"otelcol": collector}, None)
        assert otelcol.real is real and ("real: " in otelcol.describe()) is real
        assert otelcol.describe().startswith(
            "otelcol 0.129.0 (otelcol --version said 'otelcol-contrib version 0.129.0'; /bin/otelcol; "
        )
        assert sink.real is False and sink.describe().startswith("capture-sink pytest-tracestack ")
        assert sink.describe().endswith(
            "(in-process OTLP gRPC/HTTP server; tracestack's own test sink, not a tracing backend)"
        )


def test_real_is_how_the_binary_was_obtained_not_the_words_describing_it() -> None:
    """The words are for the user; a binary named on the command line is the user's, whatever its path says."""
    stack = _stack("manifest", tempo="/opt/tempo")
    for obtained, real in [(Obtained.EXPLICIT, False), (Obtained.PATH, False), (Obtained.DOWNLOADED, True)]:
        tempo = FoundBinary(
            "tempo",
            Path("/opt/tempo"),
            "2.10.8",
            "downloaded from the team's share, SHA-256 verified",
            "tempo, version 2.10.8",
            obtained=obtained,
        )
        [used] = components_used(stack, {"tempo": tempo}, {"version": "2.10.8"})
        assert used.real is real, obtained
        assert used.describe().endswith(
            ("real: " if real else "") + "downloaded from the team's share, SHA-256 "
            "verified" + ("" if real else "; not verified by tracestack") + ")"
        )
