"""The two things every build from Go modules needs (the OCB collector, versitygw, the Kubernetes control plane):
the ``go`` command, and a build command run with its output in a log and a deadline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pytest_tracestack.errors import TracestackError

BUILD_TIMEOUT_S = 3600  # the control plane takes ~8 min on 2 idle cores and 45 on busy ones


def find_go(what: str, advice: str) -> str:
    """The ``go`` on PATH, or an error saying that ``what`` cannot be built without it, and ``advice``."""
    go = shutil.which("go")
    if go is None:
        raise TracestackError(f"Go is not on PATH, so {what} cannot be built; {advice}")
    return go


def run_build(argv: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``argv`` in ``cwd``; its stdout and stderr are appended to ``log`` and its stdout is returned.
    A failure or a timeout raises with the log's last lines."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=out,
                stdin=subprocess.DEVNULL,
                timeout=BUILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise TracestackError(f"{' '.join(argv)} did not finish in {BUILD_TIMEOUT_S}s; see {log}") from None
        out.write(done.stdout)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise TracestackError(
            f"{' '.join(argv[:3])} ... failed (exit {done.returncode}) in {cwd}; last lines of {log}:\n{tail}"
        )
    return done.stdout.decode(errors="replace")
