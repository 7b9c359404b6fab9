"""Attribute schemas (``scenarios/schemas/*.yaml``): which spans a schema applies to, and the attributes
they must or should carry, with types and allowed values; checked attribute by attribute, with findings
named like OpenTelemetry Weaver's live-check (missing_attribute, type_mismatch, bad_value, deprecated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack import paths
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.yaml_validation import validate_document
from pytest_tracestack.traces.model import Attributes, Span, SpanKind

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "double": (float,),
    "bool": (bool,),
    "bytes": (bytes,),
}
TYPES = (*_SCALARS, *(f"{name}[]" for name in ("string", "int", "double", "bool")))
REQUIREMENTS = ("required", "recommended", "optional")
_KIND_NAMES = [kind.name for kind in SpanKind]

_RULE = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": list(TYPES)},
        "requirement": {
            "enum": list(REQUIREMENTS),
            "description": "missing: required -> violation, recommended -> warning, optional -> nothing",
        },
        "one_of": {"type": "array", "minItems": 1},
        "not_one_of": {"type": "array", "minItems": 1},
        "equals": {},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "note": {"type": "string"},
    },
}
_RULES = {"type": "object", "additionalProperties": _RULE}
SCHEMA_FILE_SCHEMA = {
    "type": "object",
    "required": ["attributes"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "source": {"type": "string"},
        "applies_to": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "kind": {
                    "description": f"a span kind or a list of them ({', '.join(_KIND_NAMES)})",
                    "oneOf": [{"enum": _KIND_NAMES}, {"type": "array", "items": {"enum": _KIND_NAMES}, "minItems": 1}],
                },
                "has_attributes": {"type": "array", "items": {"type": "string"}},
            },
        },
        "resource": _RULES,
        "attributes": _RULES,
        "deprecated": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "old attribute name -> the name that replaces it",
        },
    },
}


@dataclass(frozen=True)
class Rule:
    name: str
    type: str
    requirement: str = "required"
    one_of: tuple[Any, ...] = ()
    not_one_of: tuple[Any, ...] = ()
    equals: Any = None
    min: float | None = None
    max: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Schema:
    name: str
    source: Path
    kinds: frozenset[int] = frozenset()  # selector: span kinds it applies to (empty: any)
    has_attributes: tuple[str, ...] = ()  # selector: attributes a span must carry for it to apply
    attributes: tuple[Rule, ...] = ()
    resource: tuple[Rule, ...] = ()
    deprecated: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Finding:
    level: str  # "violation" or "warning"
    attribute: str  # "http.status_code", "resource.service.name", "span.kind"
    kind: str  # missing_attribute, type_mismatch, bad_value, deprecated
    expected: Any
    actual: Any

    def render(self) -> str:
        got = "nothing" if self.kind == "missing_attribute" else f"{self.actual!r} ({type(self.actual).__name__})"
        return f"  {self.level}: {self.kind} {self.attribute}: expected {self.expected}, got {got}"


# --- loading -----------------------------------------------------------------------------------


def schema_dir() -> Path:
    return paths.scenarios_dir() / "schemas"


def schema_names(directory: Path | None = None) -> list[str]:
    return sorted(file.stem for file in (directory or schema_dir()).glob("*.yaml"))


def load_schema(name: str, directory: Path | None = None) -> Schema:
    """``scenarios/schemas/<name>.yaml`` (or ``directory/<name>.yaml``, or the file a user's profile names by
    path); a malformed file is a ProfileError naming the file and the key."""
    if Path(name).is_absolute():
        directory, name = Path(name).parent, Path(name).stem
    file = (directory or schema_dir()) / f"{name}.yaml"
    if not file.is_file():
        raise ProfileError(str(file), "", f"no such schema; schemas: {', '.join(schema_names(directory))}")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise ProfileError(str(file), "", f"is not valid YAML: {error}") from error
    validate_document(file, data, SCHEMA_FILE_SCHEMA)
    if data.get("name", name) != name:
        raise ProfileError(str(file), "name", f"is {data['name']!r} but the file is {file.name}; make them agree")
    selector = data.get("applies_to") or {}
    kinds = selector.get("kind") or []
    return Schema(
        name=name,
        source=file,
        description=data.get("description", ""),
        kinds=frozenset(SpanKind[kind] for kind in ([kinds] if isinstance(kinds, str) else kinds)),
        has_attributes=tuple(selector.get("has_attributes") or ()),
        attributes=_rules(file, "attributes", data["attributes"] or {}),
        resource=_rules(file, "resource", data.get("resource") or {}),
        deprecated=dict(data.get("deprecated") or {}),
    )


def _rules(file: Path, section: str, entries: dict[str, dict[str, Any]]) -> tuple[Rule, ...]:
    rules = []
    for name, spec in entries.items():
        rule = Rule(
            name,
            spec["type"],
            spec.get("requirement", "required"),
            tuple(spec.get("one_of", ())),
            tuple(spec.get("not_one_of", ())),
            spec.get("equals"),
            spec.get("min"),
            spec.get("max"),
            spec.get("note", ""),
        )
        _check_rule_values(file, f"{section}.{name}", rule)
        rules.append(rule)
    return tuple(rules)


def _check_rule_values(file: Path, key: str, rule: Rule) -> None:
    """Allowed values must have the attribute's type, or the rule could never pass (or never fail)."""
    listed = (
        [(f"one_of.{i}", v) for i, v in enumerate(rule.one_of)]
        + [(f"not_one_of.{i}", v) for i, v in enumerate(rule.not_one_of)]
        + ([("equals", rule.equals)] if rule.equals is not None else [])
    )
    for where, value in listed:
        if not has_type(value, rule.type):
            raise ProfileError(
                str(file),
                f"{key}.{where}",
                f"{value!r} is a {type(value).__name__}, not a {rule.type}; quote it if it is text",
            )
    if (rule.min is not None or rule.max is not None) and rule.type not in ("int", "double"):
        raise ProfileError(
            str(file),
            f"{key}.{'min' if rule.min is not None else 'max'}",
            f"applies to int or double attributes, not {rule.type}",
        )


# --- checking ----------------------------------------------------------------------------------


def has_type(value: Any, type_name: str) -> bool:
    """``200`` is an int and not a double; ``True`` is a bool and not an int; arrays are tuples of one type."""
    if type_name.endswith("[]"):
        return isinstance(value, tuple) and all(has_type(item, type_name[:-2]) for item in value)
    return type(value) in _SCALARS[type_name]


def applies_to(schema: Schema, span: Span) -> bool:
    """The schema's selector: the span's kind is one of its kinds, and it carries every selector attribute."""
    return (not schema.kinds or span.kind in schema.kinds) and all(
        key in span.attributes for key in schema.has_attributes
    )


def check_span(schema: Schema, span: Span) -> list[Finding]:
    """Every finding for one span, in the order of the schema file; a kind the selector excludes is a violation."""
    findings: list[Finding] = []
    if schema.kinds and span.kind not in schema.kinds:
        findings.append(
            Finding("violation", "span.kind", "bad_value", _kind_names(schema.kinds), SpanKind.name_of(span.kind))
        )
    findings += _check(schema.attributes, span.attributes, "")
    findings += _check(schema.resource, span.resource, "resource.")
    findings += [
        Finding("warning", old, "deprecated", f"{new} instead", span.attributes[old])
        for old, new in schema.deprecated.items()
        if old in span.attributes
    ]
    return findings


def check_spans(schema: Schema, spans: list[Span]) -> dict[str, list[Finding]]:
    """Findings of each span the schema's selector picks, by span id (an empty list: the span passes)."""
    return {span.span_id: check_span(schema, span) for span in spans if applies_to(schema, span)}


def _kind_names(kinds: frozenset[int]) -> str:
    return " or ".join(SpanKind.name_of(kind) for kind in sorted(kinds))


def _check(rules: tuple[Rule, ...], values: Attributes, prefix: str) -> list[Finding]:
    findings = []
    for rule in rules:
        name = prefix + rule.name
        if rule.name not in values:
            if rule.requirement != "optional":
                level = "violation" if rule.requirement == "required" else "warning"
                findings.append(Finding(level, name, "missing_attribute", f"{rule.type} ({rule.requirement})", None))
            continue
        value = values[rule.name]
        if not has_type(value, rule.type):
            findings.append(Finding("violation", name, "type_mismatch", rule.type, value))
        elif (problem := _bad_value(rule, value)) is not None:
            findings.append(Finding("violation", name, "bad_value", problem, value))
    return findings


def _bad_value(rule: Rule, value: Any) -> str | None:
    if rule.one_of and value not in rule.one_of:
        return f"one of {list(rule.one_of)}"
    if rule.not_one_of and value in rule.not_one_of:
        return f"none of {list(rule.not_one_of)}" + (f" ({rule.note})" if rule.note else "")
    if rule.equals is not None and value != rule.equals:
        return repr(rule.equals)
    if rule.min is not None and value < rule.min or rule.max is not None and value > rule.max:
        return f"between {rule.min} and {rule.max}"
    return None


def render_findings(findings: list[Finding], span: Span | None = None, schema: Schema | None = None) -> str:
    """Findings one per line, violations first, under a header naming the span and schema when given."""
    header = []
    if span is not None or schema is not None:
        who = f"span {span.name!r} ({span.span_id})" if span is not None else "span"
        header = [f"{who} against schema {schema.name} ({schema.source})" if schema else who]
    ordered = sorted(findings, key=lambda finding: finding.level != "violation")
    return "\n".join(header + ([finding.render() for finding in ordered] or ["  no findings"]))
