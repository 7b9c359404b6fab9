"""``--tracestack-plan`` against a reachable cluster: the API server itself checks every raw object the run
would apply (``kubectl apply --dry-run=server --validate=strict``), which catches what a schema cannot (a
selector that does not match its pod labels, a name the server refuses, an admission policy); nothing is created.

The run's namespace does not exist at plan time, so its creation is dry-run too, and the objects are dry-run in
namespace ``default``, which every cluster has. A custom resource is sent only when its CRD is already in the
cluster (otherwise a chart of the run installs it, and the plan says it was not sent).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml

from pytest_tracestack.runtimes.kube.commands import CompletedCommand
from pytest_tracestack.runtimes.kube.crds import custom_resource
from pytest_tracestack.runtimes.kube.manifests import RenderedManifest, object_name
from pytest_tracestack.runtimes.kube.validate import ManifestInvalid

Run = Callable[[tuple[str, ...], float], CompletedCommand]
DRY_RUN_NAMESPACE = "default"
TIMEOUT_S = 60.0


class ServerRefused(ManifestInvalid):
    """The API server refused an object in a dry run; the message is the server's."""


def server_reachable(run: Run, kubectl: tuple[str, ...]) -> tuple[bool, str]:
    """Whether the API server answers, and what kubectl said when it did not."""
    done = run((*kubectl, "version", "-o", "json"), 30)
    try:
        return bool(json.loads(done.stdout)["serverVersion"]["gitVersion"]), ""
    except (ValueError, KeyError, TypeError):
        return False, done.last_line() or f"kubectl exited {done.returncode}"


def server_dry_run(
    run: Run, kubectl: tuple[str, ...], namespace: str, manifests: list[RenderedManifest], workdir: Path
) -> list[str]:
    """One line per namespace and manifest the server accepted; ServerRefused with its message otherwise."""
    done = run((*kubectl, "create", "namespace", namespace, "--dry-run=server", "-o", "name"), TIMEOUT_S)
    if not done.ok:
        raise ServerRefused(f"namespace {namespace}: the API server refused to create it (dry run):\n{done.describe()}")
    checked = [f"namespace {namespace}: the API server would create it (kubectl create --dry-run=server)"]
    crds_present: dict[str, bool] = {}
    for manifest in manifests:
        sent, held_back = [], []
        for document in manifest.documents:
            known = custom_resource(document)
            if known and not crds_present.setdefault(known.crd, _crd_present(run, kubectl, known.crd)):
                held_back.append(f"{object_name(document)} (its CRD {known.crd} is not in the cluster yet)")
            else:
                sent.append(document)
        if sent:
            checked.append(_dry_run_apply(run, kubectl, manifest, sent, workdir))
        if held_back:
            checked.append(f"{manifest.label}: not sent to the API server: {', '.join(held_back)}")
    return checked


def _dry_run_apply(
    run: Run, kubectl: tuple[str, ...], manifest: RenderedManifest, documents: list[dict], workdir: Path
) -> str:
    path = workdir / "server-dry-run" / manifest.path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    done = run(
        (*kubectl, "apply", "--dry-run=server", "--validate=strict", "--namespace", DRY_RUN_NAMESPACE, "-f", str(path)),
        TIMEOUT_S,
    )
    if not done.ok:
        said = done.stderr.strip().replace(str(path), manifest.label) or done.describe()
        raise ServerRefused(
            f"{manifest.label}: the API server refused it (kubectl apply --dry-run=server "
            f"--validate=strict, in namespace {DRY_RUN_NAMESPACE}):\n{said}"
        )
    names = ", ".join(object_name(document) for document in documents)
    return f"{manifest.label}: {names} accepted by the API server (dry run, strict field validation)"


def _crd_present(run: Run, kubectl: tuple[str, ...], crd: str) -> bool:
    done = run((*kubectl, "get", "crd", crd, "--ignore-not-found", "-o", "name"), TIMEOUT_S)
    return done.ok and bool(done.stdout.strip())
