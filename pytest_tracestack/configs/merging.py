"""Deep merge of YAML documents: a profile over the one it extends, values files in helm's ``-f`` order."""

from __future__ import annotations

from typing import Any


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else in the override (lists included) replaces the base."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    return override
