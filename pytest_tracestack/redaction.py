"""Keeps secrets from configs (S3 keys, passwords, tokens) out of logs, plans and reports."""

from __future__ import annotations

import re
from typing import Any

SECRET_KEYS = re.compile(r"(secret|password|passwd|token|access_key|accesskey|secretkey|api_key|apikey|"
                         r"rootpassword|rootuser|credentials)", re.IGNORECASE)
MASK = "***"

# key: value / key=value / "key": "value" in YAML, logfmt, JSON and command lines.
_INLINE = re.compile(
    r"""(?P<key>["']?[\w.\-]*(?:secret|password|passwd|token|access_key|accesskey|secretkey|api_key|apikey|rootUser|rootPassword)[\w.\-]*["']?)"""
    r"""(?P<sep>\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,}\]]+)""",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Mask the value of every secret-looking key in free text."""
    return _INLINE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)


def redact_data(value: Any) -> Any:
    """Mask secret-looking keys in parsed YAML/JSON."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and SECRET_KEYS.search(k) and v not in (None, "") else redact_data(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    return value
