"""``tracestack``: install the binaries a profile needs, and stop a stack left up with --tracestack-keep."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .binaries import SPECS, BinaryProvider
from .collector_build import build_collector
from .errors import TracestackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracestack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="find, download or build a binary into tracestack's cache")
    install.add_argument("binary", choices=sorted(SPECS))
    install.add_argument("--no-download", action="store_true", help="do not try release downloads")
    install.add_argument("--download-base", help="mirror base URL for release downloads")
    stop = commands.add_parser("stop", help="stop a stack left running with --tracestack-keep")
    stop.add_argument("workdir", type=Path)
    stop.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                      help="how long every process may take to exit after SIGTERM before SIGKILL (default 10)")
    args = parser.parse_args(argv)
    try:
        return _install(args) if args.command == "install" else _stop(args.workdir, args.grace)
    except TracestackError as error:
        print(f"tracestack: {error}", file=sys.stderr)
        return 1


def _install(args: argparse.Namespace) -> int:
    provider = BinaryProvider(download_base=args.download_base, allow_download=not args.no_download,
                              builders={"otelcol": build_collector})
    found = provider.find(args.binary)
    print(f"{args.binary}: {found.describe()}")
    return 0


def _stop(workdir: Path, grace_s: float) -> int:
    """Returns only when every process it signalled is gone, or names those that are not (exit status 1)."""
    from .runtimes.state import stop_kept_stack

    result = stop_kept_stack(workdir, grace_s)
    print("\n".join(result.lines()))
    if not result.complete:
        print(f"tracestack: could not stop everything (named above); {workdir} kept: run `tracestack stop "
              f"{workdir}` again or end those processes yourself", file=sys.stderr)
        return 1
    if result.removed:
        print(f"removed {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
