"""Keeps secrets from configs (S3 keys, passwords, tokens) out of logs, plans and reports.

Secrets are found by the key that holds them (``secret_key: ...``) and, for those tracestack generates itself
(an S3 server's credentials, made per run), by their value wherever it appears (``mask_value``).
"""

from __future__ import annotations

import re
import threading
from typing import Any

SECRET_KEYS = re.compile(
    r"(secret|password|passwd|token|access_key|accesskey|secretkey|api_key|apikey|"
    r"rootpassword|rootuser|credentials)",
    re.IGNORECASE,
)
MASK = "***"

# key: value / key=value / "key": "value" in YAML, logfmt, JSON and command lines.
_INLINE = re.compile(
    r"""(?P<key>["']?[\w.\-]*(?:secret|password|passwd|token|access_key|accesskey|secretkey|api_key|apikey|rootUser|rootPassword)[\w.\-]*["']?)"""
    r"""(?P<sep>\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,}\]]+)""",
    re.IGNORECASE,
)


# scheme://user:password@host: a chart mirror or download base with basic-auth credentials in its URL.
_URL_PASSWORD = re.compile(r"(?P<start>[a-z][a-z0-9+.\-]*://[^\s/:@]+:)[^\s/@]+@", re.IGNORECASE)


# Secret values known to this process: every later redact() masks them wherever they appear.
_KNOWN_VALUES: set[str] = set()
_KNOWN_LOCK = threading.Lock()
_SHORTEST_MASKED = 8  # a shorter value would mask ordinary words; generated secrets are longer


def mask_value(value: str) -> None:
    """Mask ``value`` itself from now on in everything this process redacts (a generated credential: it may show
    up under no secret-looking key, e.g. in a server's own log line)."""
    if len(value) < _SHORTEST_MASKED:
        raise ValueError(f"a secret to mask by value must have at least {_SHORTEST_MASKED} characters")
    with _KNOWN_LOCK:
        _KNOWN_VALUES.add(value)


def redact(text: str) -> str:
    """Mask the value of every secret-looking key in free text, the password in a URL, and every known secret."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('start')}{MASK}@", text)
    text = _INLINE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)
    return _mask_known(text)


def _mask_known(text: str) -> str:
    with _KNOWN_LOCK:
        known = sorted(_KNOWN_VALUES, key=len, reverse=True)
    for value in known:
        text = text.replace(value, MASK)
    return text


def redact_data(value: Any) -> Any:
    """Mask secret-looking keys, and known secrets, in parsed YAML/JSON."""
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and SECRET_KEYS.search(k) and v not in (None, "") else redact_data(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    return _mask_known(value) if isinstance(value, str) else value


def redact_setting(dotted: str, value: Any) -> Any:
    """The value set at a dotted key (``storage.trace.s3.secret_key``), masked when a part of the key looks secret."""
    if value not in (None, "") and any(SECRET_KEYS.search(part) for part in dotted.split(".")):
        return MASK
    return redact_data(value)
