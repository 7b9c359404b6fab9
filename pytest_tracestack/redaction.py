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


# scheme://user:password@host: a chart mirror or download base with basic-auth credentials in its URL.
_URL_PASSWORD = re.compile(r"(?P<start>[a-z][a-z0-9+.\-]*://[^\s/:@]+:)[^\s/@]+@", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask the value of every secret-looking key in free text, and the password in a URL."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('start')}{MASK}@", text)
    return _INLINE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)


def redact_data(value: Any) -> Any:
    """Mask secret-looking keys in parsed YAML/JSON."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and SECRET_KEYS.search(k) and v not in (None, "") else redact_data(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    return value


def redact_setting(dotted: str, value: Any) -> Any:
    """The value set at a dotted key (``storage.trace.s3.secret_key``), masked when a part of the key looks secret."""
    if value not in (None, "") and any(SECRET_KEYS.search(part) for part in dotted.split(".")):
        return MASK
    return redact_data(value)
