"""Keep secrets out of everything evalkit writes or prints.

Two nets: by value (the current values of environment variables whose names look like
secrets) and by pattern (bearer tokens, ``sk-...``-style keys, ``x-api-key`` headers),
so a provider error that echoes request headers is scrubbed before it is recorded.
"""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)S?$|^AWS_", re.IGNORECASE)
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:x-)?api[-_]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"',}]{6,}"),
    re.compile(r"()\b(?:sk|pk|rk|gsk|xai|fw)-[A-Za-z0-9_-]{12,}"),
    re.compile(r"()\bsk-ant-[A-Za-z0-9_-]{8,}"),
    re.compile(r"()\bAIza[0-9A-Za-z_-]{20,}"),
]
MASK = "[REDACTED]"


def secret_values() -> list[str]:
    """Values of secret-looking environment variables, longest first (so substrings do not win)."""
    vals = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6}
    return sorted(vals, key=len, reverse=True)


def redact(text: str) -> str:
    """Return ``text`` with known secret values and key-shaped strings masked."""
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    for pat in _PATTERNS:
        text = pat.sub(lambda m: m.group(1) + MASK, text)
    return text
