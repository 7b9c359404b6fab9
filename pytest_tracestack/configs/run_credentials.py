"""Credentials a profile's components get per run (an S3 server's root keys, which Tempo signs its requests with):
generated when the stack starts, masked by value in every output from that moment on."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from pytest_tracestack.configs.redaction import mask_value
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import Profile


@dataclass(frozen=True)
class RunCredentials:
    values: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)  # (component, name) -> value

    def get(self, component: str, name: str) -> str:
        """The credential ``{credential:COMPONENT.NAME}`` names."""
        if (component, name) not in self.values:
            declared = ", ".join(f"{c}.{n}" for c, n in self.values) or "none"
            raise ProfileError(
                "local_overrides",
                f"{{credential:{component}.{name}}}",
                f"no component declares this credential; declared: {declared}",
            )
        return self.values[(component, name)]


def generate_credentials(profile: Profile) -> RunCredentials:
    """A fresh random value for every credential a component declares (hex: valid in an S3 access key id, where a
    '/' would break the SigV4 signature's scope)."""
    values = {}
    for component in profile.components.values():
        for name in component.credentials:
            value = secrets.token_hex(16)
            mask_value(value)
            values[(component.name, name)] = value
    return RunCredentials(values)
