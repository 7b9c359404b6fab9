"""The custom resources tracestack applies: their CRD names (to wait for) and tracestack's schemas of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).with_name("crd_openapi")


@dataclass(frozen=True)
class CustomResource:
    api_version: str
    kind: str
    crd: str  # the CustomResourceDefinition's name: <plural>.<group>
    schema_file: str  # under crd_openapi/

    def schema(self) -> dict[str, Any]:
        return _load(self.schema_file)


KNOWN = (
    CustomResource(
        "opentelemetry.io/v1beta1",
        "OpenTelemetryCollector",
        "opentelemetrycollectors.opentelemetry.io",
        "opentelemetrycollector-v1beta1.json",
    ),
    CustomResource(
        "opentelemetry.io/v1alpha1",
        "Instrumentation",
        "instrumentations.opentelemetry.io",
        "instrumentation-v1alpha1.json",
    ),
)


def custom_resource(obj: dict[str, Any]) -> CustomResource | None:
    for known in KNOWN:
        if obj.get("apiVersion") == known.api_version and obj.get("kind") == known.kind:
            return known
    return None


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text())
