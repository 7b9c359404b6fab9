"""Validating a YAML document (a profile, an attribute schema) against its JSON Schema, with an error that
names the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema

from pytest_tracestack.errors import ProfileError


def validate_document(file: Path, data: Any, schema: dict[str, Any]) -> None:
    """Raise ProfileError for the most relevant violation (shallowest key first), if any."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ProfileError(str(file), key, explain(error))


def explain(error: jsonschema.ValidationError) -> str:
    """What was wrong and what is allowed, in the words of the schema (its enums, keys and descriptions)."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("description")
    if error.validator == "enum" and isinstance(error.validator_value, list):
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "additionalProperties":
        return f"{error.message}; allowed keys: {', '.join(sorted(schema.get('properties', {})))}"
    if error.validator == "propertyNames":
        return f"{error.message}; expected one of {', '.join(schema['propertyNames']['enum'])}"
    if error.validator == "oneOf" and hint:
        return f"{error.instance!r} is not {hint}"
    return error.message + (f" (expected {hint})" if hint else "")
