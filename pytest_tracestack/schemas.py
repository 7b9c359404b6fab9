"""Attribute schemas (``scenarios/schemas/*.yaml``): which attributes a kind of span must carry, with
their types and allowed values, checked attribute by attribute like Weaver's live-check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .errors import ProfileError
from .model import SPAN_KIND_NAMES, Span

TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "int": (int,), "double": (float,), "bool": (bool,),
                                      "array": (tuple,)}
_KINDS = {name: number for number, name in SPAN_KIND_NAMES.items()}


@dataclass(frozen=True)
class Rule:
    name: str
    type: str
    required: bool = True
    one_of: tuple[Any, ...] = ()
    equals: Any = None


@dataclass(frozen=True)
class Schema:
    name: str
    source: Path
    span_kind: int | None
    attributes: tuple[Rule, ...]
    resource: tuple[Rule, ...] = ()
    deprecated: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    level: str        # "violation" or "warning"
    kind: str         # missing_attribute, type_mismatch, bad_value, deprecated, wrong_span_kind
    attribute: str
    expected: Any
    actual: Any

    def render(self) -> str:
        return f"  {self.level}: {self.kind} {self.attribute}: expected {self.expected}, got {self.actual!r}"


def schema_dir() -> Path:
    return paths.scenarios_dir() / "schemas"


def load_schema(name: str, directory: Path | None = None) -> Schema:
    file = (directory or schema_dir()) / f"{name}.yaml"
    if not file.is_file():
        known = ", ".join(sorted(p.stem for p in (directory or schema_dir()).glob("*.yaml")))
        raise ProfileError(str(file), "", f"no such schema; schemas: {known}")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise ProfileError(str(file), "", f"is not valid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        raise ProfileError(str(file), "attributes", "must be a mapping of attribute name to {type, required, ...}")
    kind = (data.get("applies_to") or {}).get("kind")
    if kind is not None and kind not in _KINDS:
        raise ProfileError(str(file), "applies_to.kind", f"{kind!r} is not one of {', '.join(_KINDS)}")
    return Schema(name=data.get("name", name), source=file, span_kind=_KINDS.get(kind),
                  attributes=_rules(file, "attributes", data["attributes"]),
                  resource=_rules(file, "resource", data.get("resource") or {}),
                  deprecated=dict(data.get("deprecated") or {}))


def _rules(file: Path, section: str, entries: dict[str, Any]) -> tuple[Rule, ...]:
    rules = []
    for name, spec in entries.items():
        if not isinstance(spec, dict) or spec.get("type") not in TYPES:
            raise ProfileError(str(file), f"{section}.{name}.type",
                               f"must be one of {', '.join(TYPES)}, got {spec.get('type') if isinstance(spec, dict) else spec!r}")
        rules.append(Rule(name, spec["type"], bool(spec.get("required", True)), tuple(spec.get("one_of", ())),
                          spec.get("equals")))
    return tuple(rules)


def check_span(schema: Schema, span: Span) -> list[Finding]:
    findings: list[Finding] = []
    if schema.span_kind is not None and span.kind != schema.span_kind:
        findings.append(Finding("violation", "wrong_span_kind", "(span kind)", SPAN_KIND_NAMES[schema.span_kind],
                                SPAN_KIND_NAMES.get(span.kind)))
    findings += _check(schema.attributes, span.attributes, "")
    findings += _check(schema.resource, span.resource, "resource ")
    findings += [Finding("warning", "deprecated", old, f"{new} instead", span.attributes[old])
                 for old, new in schema.deprecated.items() if old in span.attributes]
    return findings


def _check(rules: tuple[Rule, ...], values: dict[str, Any], prefix: str) -> list[Finding]:
    findings = []
    for rule in rules:
        name = prefix + rule.name
        if rule.name not in values:
            if rule.required:
                findings.append(Finding("violation", "missing_attribute", name, rule.type, None))
            continue
        value = values[rule.name]
        if not isinstance(value, TYPES[rule.type]) or (rule.type == "int" and isinstance(value, bool)):
            findings.append(Finding("violation", "type_mismatch", name, rule.type, value))
        elif rule.one_of and value not in rule.one_of:
            findings.append(Finding("violation", "bad_value", name, f"one of {list(rule.one_of)}", value))
        elif rule.equals is not None and value != rule.equals:
            findings.append(Finding("violation", "bad_value", name, repr(rule.equals), value))
    return findings


def render_findings(findings: list[Finding]) -> str:
    return "\n".join(finding.render() for finding in findings) or "  no findings"
