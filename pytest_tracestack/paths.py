"""Where the profile data (scenarios/, manifests/) and tracestack's caches live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_root() -> Path:
    """The directory holding ``scenarios/`` and ``manifests/``.

    A source checkout or editable install keeps them beside the package; a wheel installs them
    under ``<prefix>/share/pytest-tracestack``.
    """
    for candidate in (PACKAGE_DIR.parent, Path(sys.prefix) / "share" / "pytest-tracestack"):
        if (candidate / "scenarios").is_dir() and (candidate / "manifests").is_dir():
            return candidate
    raise FileNotFoundError(f"no scenarios/ and manifests/ beside {PACKAGE_DIR}")


def scenarios_dir() -> Path:
    return data_root() / "scenarios"


def manifests_dir() -> Path:
    return data_root() / "manifests"


def cache_dir() -> Path:
    """Per-user cache for downloaded and built binaries (``TRACESTACK_CACHE_DIR`` overrides)."""
    configured = os.environ.get("TRACESTACK_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-tracestack"
