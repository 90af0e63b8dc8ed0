"""API keys with tenants (src/api/tenants.py): how entries are read, that a key is compared
with every configured key whichever matches, and that a refused entry is never shown."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
from pydantic import ValidationError

from src.api import tenants
from src.api.settings import ApiSettings
from src.api.tenants import Caller, KeyRing

SECRET = "s3cret-key-value"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("AGENTQ_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_entries_are_key_or_tenant_colon_key() -> None:
    ring = ApiSettings(AGENTQ_API_KEYS="plain, acme:k-acme ,beta:k:with:colons",
                       AGENTQ_ADMIN_KEYS="root,ops:k-ops").key_ring()
    assert ring.resolve(b"plain") == Caller("default", admin=False)
    assert ring.resolve(b"k-acme") == Caller("acme", admin=False)
    assert ring.resolve(b"k:with:colons") == Caller("beta", admin=False)
    assert ring.resolve(b"root") == Caller("default", admin=True)
    assert ring.resolve(b"k-ops") == Caller("ops", admin=True)
    for wrong in (b"", b"acme:k-acme", b"k-acm", b"k-acme ", b"ROOT"):
        assert ring.resolve(wrong) is None, wrong
    assert sorted(ring.keys()) == ["k-acme", "k-ops", "k:with:colons", "plain", "root"]
    assert not KeyRing() and ring


def test_admin_keys_alone_turn_authentication_on() -> None:
    assert ApiSettings(AGENTQ_ADMIN_KEYS="root").key_ring()
    assert not ApiSettings().key_ring()


@pytest.mark.parametrize("position", range(5))
def test_every_key_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch,
                                                 position: int) -> None:
    keys = [f"key-{i}" for i in range(5)]
    ring = KeyRing([keys[0], f"acme:{keys[1]}", keys[2]], [keys[3], f"ops:{keys[4]}"])
    compared: list[bytes] = []
    real = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(tenants.hmac, "compare_digest", compare_digest)
    assert ring.resolve(keys[position].encode()) is not None
    assert sorted(compared) == sorted(k.encode() for k in keys)  # all five, once each
    compared.clear()
    assert ring.resolve(b"no-such-key") is None
    assert len(compared) == 5


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("AGENTQ_API_KEYS", f"ok,:{SECRET}", "AGENTQ_API_KEYS entry 2"),
        ("AGENTQ_API_KEYS", f"ok,{'t' * 65}:{SECRET}", "AGENTQ_API_KEYS entry 2"),
        ("AGENTQ_API_KEYS", f"ok,te nant:{SECRET}", "AGENTQ_API_KEYS entry 2"),
        ("AGENTQ_API_KEYS", f"{SECRET}:", "AGENTQ_API_KEYS entry 1"),
        ("AGENTQ_ADMIN_KEYS", f"ok,:{SECRET}", "AGENTQ_ADMIN_KEYS entry 2"),
        ("AGENTQ_WEBHOOK_TENANTS", f"github:{SECRET} x", "AGENTQ_WEBHOOK_TENANTS entry 1"),
        ("AGENTQ_WEBHOOK_TENANTS", "github", "AGENTQ_WEBHOOK_TENANTS entry 1"),
    ],
)
def test_a_bad_entry_is_refused_naming_its_place_never_the_key(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        ApiSettings()
    shown = str(refused.value) + repr(refused.value)
    assert says in shown, shown
    assert SECRET not in shown and "te nant" not in shown, shown


def test_one_key_for_two_tenants_or_roles_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for api, admin in ((f"acme:{SECRET},beta:{SECRET}", ""), (SECRET, SECRET)):
        monkeypatch.setenv("AGENTQ_API_KEYS", api)
        monkeypatch.setenv("AGENTQ_ADMIN_KEYS", admin)
        with pytest.raises(ValidationError) as refused:
            ApiSettings()
        assert "given again" in str(refused.value) and SECRET not in str(refused.value)
    monkeypatch.setenv("AGENTQ_API_KEYS", f"acme:{SECRET},acme:{SECRET}")  # the same twice
    monkeypatch.setenv("AGENTQ_ADMIN_KEYS", "")
    assert ApiSettings().key_ring().resolve(SECRET.encode()) == Caller("acme")


def test_settings_show_no_key() -> None:
    s = ApiSettings(AGENTQ_API_KEYS=f"acme:{SECRET}", AGENTQ_ADMIN_KEYS=f"{SECRET}-admin")
    assert SECRET not in repr(s) + str(s)
