"""Settings: typed and validated, one source for docs/settings.md, keys bound to their endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Settings
from assistant.settings import SettingsError

DOCS = Path(__file__).parent.parent / "docs" / "settings.md"


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("min_relevance", "-1", "min_relevance: must be greater than or equal to 0"),
        ("min_relevance", "high", "min_relevance: must be a valid number"),
        ("answer_papers", "0", "answer_papers: must be greater than or equal to 1"),
        ("embed_batch", "0", "embed_batch: must be greater than or equal to 1"),
        ("max_file_mb", "0", "max_file_mb: must be greater than 0"),
        ("chunk_words", "5", "chunk_words: must be greater than or equal to 10"),
        ("backend", "telepathy", "backend: must be 'auto', 'extractive', 'openai' or 'local'"),
        ("allow_uploads", "maybe", "allow_uploads: must be a valid boolean"),
        ("base_url", "not a url", "base_url: expected a URL"),
    ],
)
def test_every_setting_is_validated_with_a_message_naming_it(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load(env={f"ASSISTANT_{name.upper()}" if name != "base_url" else "OPENAI_BASE_URL": value})
    with pytest.raises(SettingsError, match=message):
        Settings.load(env={}, **{name: value})


def test_unknown_settings_are_refused_wherever_they_come_from(tmp_path):
    with pytest.raises(SettingsError, match="unknown setting.*top_kk"):
        Settings.load(env={}, top_kk=3)
    config = tmp_path / "c.toml"
    config.write_text("[paper-assistant]\nmin_relevance = 0.5\ntypo_here = 1\n")
    with pytest.raises(SettingsError, match="in the config file: typo_here"):
        Settings.load(config_file=config, env={})


def test_priority_is_defaults_then_file_then_environment_then_arguments(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("top_k = 3\ncandidates = 50\nmin_relevance = 0.5\n")
    s = Settings.load(
        config_file=config, env={"ASSISTANT_CANDIDATES": "60", "ASSISTANT_MIN_RELEVANCE": "0.6"}, min_relevance=0.7
    )
    assert (s.top_k, s.candidates, s.min_relevance, s.answer_papers) == (3, 60, 0.7, 5)


def test_a_key_is_only_used_with_the_endpoint_configured_beside_it():
    env = {"OPENAI_API_KEY": "sk-owner-0123456789", "OPENAI_BASE_URL": "http://127.0.0.1:9001/v1"}
    assert Settings.load(env=env).secret("api_key") == "sk-owner-0123456789"  # configured together
    # a base URL from a higher-priority place than the key (a CLI flag over the environment): no key
    moved = Settings.load(env=env, base_url="http://127.0.0.1:9002/v1")
    assert moved.secret("api_key") == "" and moved.base_url.endswith(":9002/v1")
    assert Settings.load(env=env, base_url="http://127.0.0.1:9002/v1", api_key="sk-mine").secret("api_key") == "sk-mine"
    only_key = Settings.load(env={"OPENAI_API_KEY": "sk-owner-0123456789"}, base_url="http://127.0.0.1:9/v1")
    assert only_key.secret("api_key") == ""


def test_secrets_and_url_credentials_never_show():
    s = Settings.load(
        env={
            "OPENAI_API_KEY": "sk-hidden-0123456789",
            "OPENAI_BASE_URL": "http://user:pa55word@127.0.0.1:9/v1?api-key=qk-secret-77",
            "ASSISTANT_CHROMA_URL": "http://admin:chr0ma-pw@127.0.0.1:8000",
        }
    )
    shown = repr(s) + str(s.redacted()) + repr(s.api_key) + str(Settings.describe())
    for secret in ("sk-hidden", "pa55word", "qk-secret", "chr0ma-pw"):
        assert secret not in shown
    assert s.redacted()["api_key"] == "<set>" and "127.0.0.1:9" in s.redacted()["base_url"]


def test_a_space_is_public_unless_its_owner_says_otherwise():
    assert Settings.load(env={}).public is False
    assert Settings.load(env={"SPACE_ID": "someone/papers"}).public is True
    assert Settings.load(env={"SPACE_ID": "someone/papers", "ASSISTANT_PUBLIC": "0"}).public is False
    # behind the Space's proxy: its X-Forwarded-For entry names the caller; elsewhere the header is ignored
    assert Settings.load(env={}).trusted_proxies == 0
    assert Settings.load(env={"SPACE_ID": "someone/papers"}).trusted_proxies == 1
    assert Settings.load(env={"SPACE_ID": "a/b", "ASSISTANT_TRUSTED_PROXIES": "2"}).trusted_proxies == 2


def test_docs_settings_md_is_generated_from_the_settings_and_current():
    assert DOCS.read_text(encoding="utf-8") == Settings.markdown(), (
        "docs/settings.md is stale: run `paper-assistant settings --markdown > docs/settings.md`"
    )
    for name in Settings.model_fields:
        assert f"| `{name}` |" in DOCS.read_text(encoding="utf-8")
