"""HMAC-SHA256 signatures shared by inbound webhooks and outbound callbacks.

The header is `X-Signature-256: sha256=<hex HMAC of the raw body>`, as GitHub sends it.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The header value for `body` signed with `secret`."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """True when `header` is the signature of `body`; the comparison takes constant time."""
    if not header or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())
