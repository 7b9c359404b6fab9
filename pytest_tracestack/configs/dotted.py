"""Dotted keys (``storage.trace.backend``) in nested mappings: configs, Helm values, a profile's overrides."""

from __future__ import annotations

from typing import Any


def dotted_get(data: Any, dotted: str) -> Any:
    """The value at ``dotted``, or None when a part of it is missing."""
    node = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def has_dotted(data: Any, dotted: str) -> bool:
    """Whether every part of ``dotted`` is there (a key set to null counts as there)."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` to ``value``, making the mappings on the way; ``None`` deletes the key."""
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        if not isinstance(node.get(part), dict):
            if value is None:
                return  # deleting below a part that is not there: nothing to delete
            node[part] = {}
        node = node[part]
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value
