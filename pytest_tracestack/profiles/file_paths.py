"""Where the files a profile names live.

A built-in profile (in ``scenarios/``) names files under the built-in ``manifests/`` by relative paths. A
user's profile lives in the user's repository: its paths are relative to the profile file itself, and
``builtin:NAME`` names a file shipped under ``manifests/``. After loading, a user's path is absolute and a
built-in one stays relative, so every reader (the local renderer, the kind/cluster install, the offline
checks) opens exactly the same file.

``files:`` in a profile that ``extends`` another replaces files of the base everywhere the base names them
(its components' configs, its charts' values, its manifests): one place names the user's files.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pytest_tracestack import paths
from pytest_tracestack.errors import ProfileError

BUILTIN_PREFIX = "builtin:"


def is_builtin_profile(file: Path) -> bool:
    return file.resolve().parent == paths.scenarios_dir().resolve()


def resolve_own_paths(data: Any, file: Path) -> Any:
    """The document with the paths it names made absolute (relative to ``file``), for a user's profile."""
    if not isinstance(data, dict):
        return data
    resolved = copy.deepcopy(data)
    builtin = is_builtin_profile(file)
    for _key, value, assign in _path_fields(resolved):
        if value.startswith(BUILTIN_PREFIX):
            assign(value.removeprefix(BUILTIN_PREFIX))
        elif not builtin and not Path(value).is_absolute():
            assign(str((file.parent / value).resolve()))
    return resolved


def as_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A built-in profile's document with its relative paths as ``builtin:NAME``, to be saved elsewhere."""
    copied = copy.deepcopy(data)
    for _key, value, assign in _path_fields(copied):
        if not Path(value).is_absolute() and not value.startswith(BUILTIN_PREFIX):
            assign(BUILTIN_PREFIX + value)
    return copied


def replace_files(data: dict[str, Any], replacements: Any, file: Path) -> dict[str, Any]:
    """Swap each file of the extended profile named in ``files:`` for the user's, wherever it is named."""
    if not isinstance(replacements, dict):
        raise ProfileError(
            str(file),
            "files",
            "must map a file of the extended profile to yours, e.g. "
            "'distributed/values.yaml: ../deploy/tempo/values.yaml'",
        )
    result = copy.deepcopy(data)
    used = {value for _key, value, _assign in _path_fields(result)}
    for original, replacement in replacements.items():
        if original not in used:
            raise ProfileError(
                str(file),
                f"files.{original}",
                f"the profile does not use this file; the files it uses: {', '.join(sorted(used)) or 'none'}",
            )
        if not isinstance(replacement, str):
            raise ProfileError(str(file), f"files.{original}", f"must be a path, got {replacement!r}")
        target = str((file.parent / replacement).resolve())
        for _key, value, assign in _path_fields(result):
            if value == original:
                assign(target)
    return result


def manifest_file(reference: str) -> Path:
    """The file a (resolved) profile reference points at: absolute as is, relative under manifests/."""
    path = Path(reference)
    return path if path.is_absolute() else paths.manifests_dir() / reference


def describe(reference: str) -> str:
    """How to name a file to the user: ``manifests/<relative>`` for a built-in one, else its path."""
    return reference if Path(reference).is_absolute() else f"manifests/{reference}"


def _path_fields(data: dict[str, Any]) -> Iterator[tuple[str, str, Callable[[str], None]]]:
    """Every (key, path, setter) of the fields that name files, in a profile document (malformed parts are
    skipped here: the schema check names them)."""
    for name, spec in _dict(data.get("components")).items():
        config = spec.get("config") if isinstance(spec, dict) else None
        if isinstance(config, dict) and isinstance(config.get("manifest"), str):
            yield f"components.{name}.config.manifest", config["manifest"], _setter(config, "manifest")
    kubernetes = _dict(data.get("kubernetes"))
    yield from _list_fields(kubernetes.get("manifests"), "kubernetes.manifests")
    for index, chart in enumerate(_list(kubernetes.get("charts"))):
        if isinstance(chart, dict):
            yield from _list_fields(chart.get("values"), f"kubernetes.charts.{index}.values")
    for index, patch in enumerate(_list(kubernetes.get("patches"))):
        if isinstance(patch, dict) and isinstance(patch.get("manifest"), str):
            yield f"kubernetes.patches.{index}.manifest", patch["manifest"], _setter(patch, "manifest")
    schemas = data.get("schemas")
    if isinstance(schemas, list):
        for index, schema in enumerate(schemas):
            if isinstance(schema, str) and schema.endswith((".yaml", ".yml")):
                yield f"schemas.{index}", schema, _setter(schemas, index)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list_fields(items: Any, key: str) -> Iterator[tuple[str, str, Callable[[str], None]]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, str):
                yield f"{key}.{index}", item, _setter(items, index)


def _setter(container: Any, key: Any) -> Callable[[str], None]:
    def assign(value: str) -> None:
        container[key] = value

    return assign
