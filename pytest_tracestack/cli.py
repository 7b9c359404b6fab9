"""The tracestack command: install the binaries a profile needs, list the images its Kubernetes install uses, and
show and stop a stack left up with --tracestack-keep."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pytest_tracestack.binaries.control_plane import install_control_plane
from pytest_tracestack.binaries.finder import DEFAULT_DOWNLOAD_BASE, SPECS, BinaryProvider
from pytest_tracestack.binaries.ocb import build_collector
from pytest_tracestack.binaries.versitygw_build import build_versitygw
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.profile import load_profile, load_profile_file
from pytest_tracestack.runtimes.kube.images import ImagesUnknown
from pytest_tracestack.runtimes.kube.kind import make_kube_runtime
from pytest_tracestack.runtimes.kube.settings import KubeSettings
from pytest_tracestack.runtimes.local.kept import add_status_command
from pytest_tracestack.runtimes.local.state import stop_kept_stack

CONTROL_PLANE = "kube-control-plane"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracestack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    install = commands.add_parser(
        "install",
        help="find, download or build a binary into tracestack's cache",
        description="Find a binary (TRACESTACK_<BINARY>, PATH, cache), else download its "
        "verified release, else (the collector) build it with OCB, "
        "(versitygw) with go install; print where it is.",
    )
    install.add_argument(
        "binary",
        choices=[*sorted(SPECS), CONTROL_PLANE],
        metavar="BINARY",
        help=f"one of {', '.join([*sorted(SPECS), CONTROL_PLANE])}: tempo and otelcol are downloaded "
        "from their releases (SHA-256 verified), otelcol is built with OCB when that fails and "
        "Go is installed; versitygw (the S3 profiles' server) is built from its Go module; "
        "nginx and prometheus are only found on PATH; kube-control-plane builds kube-apiserver, "
        "kube-controller-manager, kube-scheduler, kubectl, etcd, kwok and kwokctl from their Go "
        "modules (once per version) for the cluster runtime's tests",
    )
    install.add_argument("--no-download", action="store_true", help="do not try release downloads")
    install.add_argument(
        "--download-base",
        metavar="URL",
        default=os.environ.get("TRACESTACK_DOWNLOAD_BASE"),
        help="mirror base URL for release downloads (default: $TRACESTACK_DOWNLOAD_BASE, as for "
        f"--tracestack-download-base, else {DEFAULT_DOWNLOAD_BASE})",
    )
    images = commands.add_parser(
        "images",
        help="print every image a profile's Kubernetes install uses, one a line "
        "(to pull before --tracestack-load-images=profile)",
    )
    images.add_argument("profile", help="a built-in profile's name, or a profile file")
    images.add_argument(
        "--charts",
        metavar="DIR_OR_URL",
        default=os.environ.get("TRACESTACK_CHARTS"),
        help="the pinned charts from this directory or mirror URL, as --tracestack-charts (default: "
        "$TRACESTACK_CHARTS, else the charts' repositories)",
    )
    images.add_argument(
        "--k8s-version",
        metavar="VERSION",
        default=os.environ.get("TRACESTACK_K8S_VERSION"),
        help="the Kubernetes version to render for (default: $TRACESTACK_K8S_VERSION, else the kind node image's)",
    )
    add_status_command(commands)
    stop = commands.add_parser("stop", help="stop a stack left running with --tracestack-keep")
    stop.add_argument("workdir", type=Path, metavar="DIR", help="the work dir --tracestack-keep printed")
    stop.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long every process may take to exit after SIGTERM before SIGKILL (default 10)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return args.run(args)
        return {"install": _install, "images": _images, "stop": lambda a: _stop(a.workdir, a.grace)}[args.command](args)
    except TracestackError as error:
        print(f"tracestack: {error}", file=sys.stderr)
        return 1


def _install(args: argparse.Namespace) -> int:
    if args.binary == CONTROL_PLANE:
        return _install_control_plane()
    # The binary a run would use first: TRACESTACK_<BINARY> (the --tracestack-<binary> option is pytest's).
    spec = SPECS[args.binary]
    provider = BinaryProvider(
        explicit={spec.kind: os.environ.get(spec.env)},
        download_base=args.download_base,
        allow_download=not args.no_download,
        builders={"otelcol": build_collector, "versitygw": build_versitygw},
        options="--",
        reads_options=False,
    )
    found = provider.find(args.binary)
    print(f"{args.binary}: {found.describe()}")
    return 0


def _install_control_plane() -> int:
    binaries = install_control_plane()
    print("\n".join(f"{name.replace('_', '-')}: {path}" for name, path in vars(binaries).items()))
    return 0


def _images(args: argparse.Namespace) -> int:
    given = Path(args.profile)
    profile = load_profile_file(given) if given.suffix in (".yaml", ".yml") else load_profile(args.profile)
    runtime = make_kube_runtime("kind", KubeSettings(charts=args.charts, k8s_version=args.k8s_version))
    found = runtime.plan_report(profile).images
    if found.unknown:
        raise ImagesUnknown(
            "some images cannot be read from the rendered objects:\n"
            + "\n".join(f"  - {reason}" for reason in found.unknown)
        )
    print("\n".join(found.images))
    return 0


def _stop(workdir: Path, grace_s: float) -> int:
    """Returns only when every process it signalled is gone, or names those that are not (exit status 1)."""
    result = stop_kept_stack(workdir, grace_s)
    print("\n".join(result.lines()))
    if not result.complete:
        print(
            f"tracestack: could not stop everything (named above); {workdir} kept: run `tracestack stop "
            f"{workdir}` again or end those processes yourself",
            file=sys.stderr,
        )
        return 1
    if result.removed:
        print(f"removed {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
