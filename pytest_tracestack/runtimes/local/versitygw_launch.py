"""How the local runtime runs versitygw, the S3 server of the S3-backed profiles: its command line and environment."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_tracestack.configs.rendering import ReplicaContext
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import Component, Profile
from pytest_tracestack.runtimes.base import Replica

PORT = "s3"  # the component's port the S3 API is served on
HEALTH_PATH = "/health"  # answered 200 without credentials: the profile's readiness is "http:s3/health"
# The environment variables versitygw reads its root credentials from.
ROOT_VARIABLES = ("ROOT_ACCESS_KEY", "ROOT_SECRET_KEY")


def check_versitygw_components(profile: Profile) -> None:
    """Each versitygw component has its S3 port and root credentials generated for the run, before anything starts."""
    for component in profile.components.values():
        if component.binary != "versitygw":
            continue
        if PORT not in component.ports:
            raise ProfileError(
                str(profile.source_file),
                f"components.{component.name}.ports",
                f"versitygw serves S3 on a port named {PORT!r}; the component's ports: "
                f"{', '.join(component.ports) or 'none'}",
            )
        missing = [variable for variable in ROOT_VARIABLES if variable not in component.credentials.values()]
        if missing:
            raise ProfileError(
                str(profile.source_file),
                f"components.{component.name}.credentials",
                f"no credential goes into {' or '.join(missing)}, where versitygw reads its root "
                "credentials: write 'credentials: {access_key: ROOT_ACCESS_KEY, secret_key: "
                "ROOT_SECRET_KEY}'",
            )


def versitygw_argv_env(
    component: Component, replica: Replica, context: ReplicaContext, binary: Path
) -> tuple[list[str], dict[str, str]]:
    assert context.credential is not None, "the local runtime generates the credentials before it launches anything"
    root = context.workdir / "data"
    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **{variable: context.credential(component.name, name) for name, variable in component.credentials.items()},
    }
    argv = [str(binary), "--port", replica.hostport(PORT), "--health", HEALTH_PATH, *component.args, "posix", str(root)]
    return argv, env
