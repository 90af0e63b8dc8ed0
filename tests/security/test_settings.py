"""The settings family (one pydantic-settings config, the same variable names), the one
namespace rule, and what a settings object or a URL shows of its secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from src.api.settings import ApiSettings
from src.queue import Keys
from src.queue.keys import validate_namespace
from src.queue.redact import redact_url, scrub, url_secrets
from src.queue.settings import Settings, SettingsBase
from src.worker.llm.settings import LLMSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No agentq variable from the caller's environment, and no `.env` but the test's."""
    import os

    for name in list(os.environ):
        if name.startswith(("AGENTQ_", "LLM_")) or name == "REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# --- one family --------------------------------------------------------------------------


def test_every_settings_class_shares_one_model_config() -> None:
    for cls in (Settings, ApiSettings, LLMSettings):
        assert issubclass(cls, SettingsBase)
        config = cls.model_config
        assert (config["env_file"], config["extra"]) == (".env", "ignore"), cls


def test_env_and_dotenv_are_read_alike_by_every_class(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "AGENTQ_NAMESPACE=fromdotenv\nLLM_MODEL=model-from-dotenv\nAGENTQ_RATE_LIMIT=5/second\n"
        "SOMETHING_ELSE=ignored\n"
    )
    monkeypatch.setenv("AGENTQ_HEARTBEAT_S", "2.5")
    monkeypatch.setenv("LLM_TIMEOUT_S", "12")
    api, llm = ApiSettings(), LLMSettings()
    assert (api.namespace, api.heartbeat_s, api.rate_limit) == ("fromdotenv", 2.5, "5/second")
    assert (llm.model, llm.request_timeout_s) == ("model-from-dotenv", 12)
    assert LLMSettings.from_env() == llm


def test_the_callback_settings_are_the_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTQ_WEBHOOK_SECRET", "whsec")
    monkeypatch.setenv("AGENTQ_CALLBACK_ALLOW", " 127.0.0.1, hooks.internal ,,")
    monkeypatch.setenv("AGENTQ_CALLBACK_ATTEMPTS", "3")
    monkeypatch.setenv("AGENTQ_CALLBACK_BACKOFF_S", "0.5")
    monkeypatch.setenv("AGENTQ_CALLBACK_TIMEOUT_S", "2")
    for s in (Settings(), ApiSettings()):
        assert s.webhook_secret == "whsec"
        assert s.callback_allow == ["127.0.0.1", "hooks.internal"]
        assert (s.callback_attempts, s.callback_backoff_s, s.callback_timeout_s) == (3, 0.5, 2)
    monkeypatch.setenv("AGENTQ_CALLBACK_ATTEMPTS", "0")
    with pytest.raises(ValidationError, match="AGENTQ_CALLBACK_ATTEMPTS"):
        Settings()


def test_the_rate_limit_is_an_api_setting_checked_when_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ApiSettings().rate_limit == ""
    assert ApiSettings(AGENTQ_RATE_LIMIT="600/minute").rate_limit == "600/minute"
    monkeypatch.setenv("AGENTQ_RATE_LIMIT", "lots")
    with pytest.raises(ValidationError, match="AGENTQ_RATE_LIMIT"):
        ApiSettings()


def test_fields_are_given_by_name_or_by_variable() -> None:
    assert Settings(redis_url="redis://a:1/0").redis_url == "redis://a:1/0"
    assert Settings(REDIS_URL="redis://b:1/0").redis_url == "redis://b:1/0"
    assert LLMSettings(base_url="http://x/v1/").base_url == "http://x/v1"
    assert LLMSettings(LLM_BASE_URL="http://y/v1").base_url == "http://y/v1"


def test_llm_defaults_empty_values_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = LLMSettings()
    assert llm.offline and llm.model_name == "offline" and llm.rpm is None
    assert (llm.read_timeout_s, llm.max_retries, llm.offline_delay_s) == (60.0, 4, 0.05)
    # What compose passes for "unset": empty strings mean the defaults.
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "LLM_RPM", "LLM_TPM",
                 "LLM_READ_TIMEOUT_S", "LLM_MAX_RETRIES"):
        monkeypatch.setenv(name, "")
    assert LLMSettings() == llm
    monkeypatch.setenv("LLM_RPM", "0")
    monkeypatch.setenv("LLM_TPM", "5000")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9/v1/")
    llm = LLMSettings()
    assert (llm.rpm, llm.tpm, llm.base_url, llm.model_name) == (
        None, 5000, "http://127.0.0.1:9/v1", "gpt-4o-mini")
    assert hash(llm) == hash(LLMSettings())  # one provider per settings value
    monkeypatch.setenv("LLM_MAX_RETRIES", "many")
    with pytest.raises(ValidationError, match="LLM_MAX_RETRIES"):
        LLMSettings()


def test_llm_from_an_explicit_mapping_reads_only_that(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MODEL", "from-the-environment")
    llm = LLMSettings.from_env({"LLM_RPM": "60", "LLM_MODEL": "m", "OTHER": "x"})
    assert (llm.rpm, llm.model) == (60, "m")
    assert LLMSettings.from_env({}).model == ""


# --- the namespace ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "a{b", "a}b", "{a}", "a:b", ":", "a b", " a", "a\tb", "a\n"])
def test_one_namespace_rule_for_keys_and_settings(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid namespace"):
        validate_namespace(bad)
    with pytest.raises(ValueError, match="invalid namespace"):
        Keys(bad)
    with pytest.raises(ValidationError, match="AGENTQ_NAMESPACE"):
        Settings(AGENTQ_NAMESPACE=bad)


@pytest.mark.parametrize("good", ["agentq", "t1a2b3", "my-app_prod.v2", "Ünïcode"])
def test_ordinary_namespaces_are_accepted(good: str) -> None:
    assert validate_namespace(good) == good
    assert Keys(good).prefix == "{" + good + "}"
    assert Settings(AGENTQ_NAMESPACE=good).namespace == good


# --- secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://app:s3cret@redis.example.com:6380/1", "rediss://app:***@redis.example.com:6380/1"),
        ("redis://:p%40ss%3Aw@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://:s3c@ret@h:6379/0", "redis://:***@h:6379/0"),
        ("unix://:s3cret@/run/redis.sock?db=2", "unix://:***@/run/redis.sock?db=2"),
        ("redis://h:6379/0?password=s3cret&db=1", "redis://h:6379/0?password=***&db=1"),
        ("redis://app@h:6379/0", "redis://app@h:6379/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@[::1:6379/0", "redis://:***@[::1:6379/0"),  # unparsable: still masked
        ("", ""),
    ],
)
def test_redact_url_masks_the_password_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    for secret in url_secrets(url):
        assert secret not in redact_url(url)


def test_scrub_removes_every_known_secret() -> None:
    text = "key sk-abc and sk-abcdef, password p%40ss and p@ss"
    assert scrub(text, ["sk-abc", "sk-abcdef", None, "", *url_secrets("redis://:p%40ss@h/0")]) == (
        "key *** and ***, password *** and ***"
    )


def test_a_settings_repr_shows_no_secret() -> None:
    api = ApiSettings(REDIS_URL="redis://:pw-123456@h:6379/0", AGENTQ_API_KEYS="key-a,key-b",
                      AGENTQ_WEBHOOK_SECRET="whsec-987")
    llm = LLMSettings(base_url="https://user:url-pw-42@llm.example.com/v1", api_key="sk-llm-77")
    shown = repr(api) + str(api) + repr(llm) + str(llm)
    for secret in ("pw-123456", "key-a", "key-b", "whsec-987", "url-pw-42", "sk-llm-77"):
        assert secret not in shown
    assert "redis://:***@h:6379/0" in shown and "api_key='***'" in shown
    assert api.api_keys == ["key-a", "key-b"] and llm.api_key == "sk-llm-77"  # values intact
