"""The Tempo config a component configured by Helm values runs on the local runtime, and the lines that say
how it was made (the rendered config's header, the pytest header and the report carry them)."""

from __future__ import annotations

from typing import Any

from .errors import TracestackError
from .profile_paths import describe
from .profiles import ConfigSource, Profile
from .tempo_values import CHART, CHART_SERIES, translate_values


def tempo_config_for(source: ConfigSource, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The Tempo config for ``values`` (the file ``source`` names) and the notes its header carries."""
    translation = translate_values(values, describe(source.manifest))
    notes = [f"Tempo config: translated by tracestack from the values as the {CHART} chart ({CHART_SERIES}) maps "
             "them; keys the values do not set keep Tempo's defaults (except the chart's replication factor 3 and "
             "storage paths)"]
    notes += [f"not applied locally: {key}" for key in translation.not_applied]
    return translation.config, notes


def rendering_lines(profile: Profile) -> list[str]:
    """For the pytest header and the report: how each values file becomes Tempo's config on the local runtime."""
    from .rendering import extract_config

    lines = []
    for source in sorted({c.config for c in profile.components.values()
                          if c.config and c.config.kind == "HelmValues"}, key=lambda s: s.manifest):
        try:
            _config, notes = tempo_config_for(source, extract_config(source))
        except TracestackError as error:   # the local run refuses it with this message; the header only reports
            notes = [str(error).splitlines()[0]]
        lines += [f"{describe(source.manifest)}: {note}" for note in notes]
    return lines
