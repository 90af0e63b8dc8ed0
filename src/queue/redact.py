"""Secrets out of what is shown: URLs with the password masked, known secrets scrubbed.

Every URL that reaches a log line, an error or a command's output goes through
`redact_url` first (CONTRACT §4: no password, API key or model key is ever shown).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters that carry a credential (redis-py reads `?password=` from a URL).
_SECRET_PARAMS = re.compile(r"pass|secret|token|api_?key|credential", re.IGNORECASE)
# The fallback for text that does not split as a URL: `scheme://user:password@`.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s]*):\S*@")


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***` (the user name is kept).

    `redis://:pw@host:6379/0` -> `redis://:***@host:6379/0`,
    `rediss://app:pw@host/0` -> `rediss://app:***@host/0`; a `?password=` parameter is
    masked too. A URL without a password comes back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(rf"\g<head>:{MASK}@", url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAMS.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, MASK if _SECRET_PARAMS.search(k) else v) for k, v in pairs], safe="*"
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every non-empty secret of `secrets` replaced by `***`."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def url_secrets(url: str) -> list[str]:
    """The password of `url` (as written and decoded) and its secret parameters, for `scrub`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [password, unquote(password)] if password else []
    found += [v for k, v in parse_qsl(parts.query) if _SECRET_PARAMS.search(k) and v]
    return found
