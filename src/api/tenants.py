"""API keys and tenants (CONTRACT §2): who a key is, and which jobs it may see.

Each entry of `AGENTQ_API_KEYS` is `key` or `tenant:key` (an unnamed key belongs to the
tenant `default`); keys of `AGENTQ_ADMIN_KEYS` are written alike and see every tenant.
A key is compared with every configured key, whichever matches, so the time an answer
takes does not tell which key (or whether any) matched.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from src.queue.models import DEFAULT_TENANT, TENANT_PATTERN, tenant_of


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: the tenant its key belongs to, and whether it sees every tenant."""

    tenant: str = DEFAULT_TENANT
    admin: bool = False

    def sees(self, record: Mapping[str, Any]) -> bool:
        """Whether this caller may see (and act on) the job of `record`."""
        return self.admin or tenant_of(record) == self.tenant

    @property
    def scope(self) -> str | None:
        """The tenant whose jobs a list shows this caller; None: every tenant's."""
        return None if self.admin else self.tenant

    @property
    def stamp(self) -> str | None:
        """The `tenant` of the jobs this caller creates (None: the default tenant)."""
        return None if self.tenant == DEFAULT_TENANT else self.tenant


#: Without API keys (auth off) every caller sees everything, as before tenants.
OPEN = Caller(DEFAULT_TENANT, admin=True)


def check_tenant(name: str, what: str) -> str:
    """`name` when it is a valid tenant name; else ValueError saying `what` is wrong
    (never showing `name`: in a key entry it may be a piece of the key)."""
    if not TENANT_PATTERN.fullmatch(name):
        raise ValueError(f"{what}: a tenant name must be 1 to 64 characters, "
                         "without ':' or spaces")
    return name


def parse_key_entry(entry: str, variable: str, position: int) -> tuple[str, str]:
    """(tenant, key) of one entry `key` or `tenant:key`; ValueError naming the variable and
    the entry's position, never the key."""
    tenant, sep, key = entry.partition(":")
    if not sep:
        return DEFAULT_TENANT, entry
    check_tenant(tenant, f"{variable} entry {position}")
    if not key:
        raise ValueError(f"{variable} entry {position}: the key after 'tenant:' is empty")
    return tenant, key


def parse_webhook_tenants(entries: Iterable[str]) -> dict[str, str]:
    """`source:tenant` entries of AGENTQ_WEBHOOK_TENANTS as {source: tenant}."""
    mapping: dict[str, str] = {}
    for position, entry in enumerate(entries, 1):
        source, sep, tenant = entry.partition(":")
        what = f"AGENTQ_WEBHOOK_TENANTS entry {position}"
        if not sep or not source:
            raise ValueError(f"{what}: write it as source:tenant")
        mapping[source] = check_tenant(tenant, what)
    return mapping


class KeyRing:
    """The configured keys, each with the caller it stands for."""

    def __init__(self, api_keys: Iterable[str] = (), admin_keys: Iterable[str] = ()) -> None:
        entries: dict[bytes, Caller] = {}
        for variable, keys, admin in (("AGENTQ_API_KEYS", api_keys, False),
                                      ("AGENTQ_ADMIN_KEYS", admin_keys, True)):
            for position, entry in enumerate(keys, 1):
                tenant, key = parse_key_entry(entry, variable, position)
                caller = Caller(tenant, admin)
                if entries.setdefault(key.encode(), caller) != caller:
                    raise ValueError(f"{variable} entry {position}: this key is given again "
                                     "for another tenant or role")
        self._entries = list(entries.items())

    def __bool__(self) -> bool:
        return bool(self._entries)

    def keys(self) -> list[str]:
        """Every key (without its tenant), for the rate limiter."""
        return [key.decode() for key, _ in self._entries]

    def resolve(self, given: bytes) -> Caller | None:
        """The caller of the key `given`, or None when no key matches.

        `given` is compared with every key, and the loop goes on after a match: the time
        it takes depends on the number of keys only.
        """
        found: Caller | None = None
        for key, caller in self._entries:
            if hmac.compare_digest(given, key):
                found = caller
        return found


__all__ = ["OPEN", "Caller", "KeyRing", "check_tenant", "parse_key_entry",
           "parse_webhook_tenants"]
