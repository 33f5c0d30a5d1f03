"""Runtime settings come from the environment, go back into a child's environment unchanged,
and carry no secret that looks real."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.settings import ConsoleAccountSettings, RuntimeSettings, ScaleOutSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RASA_PORT", "ASSISTANT_PROFILE", "ASSISTANT_VAR_DIR", "RASA_API_TOKEN",
                 "POSTGRES_PASSWORD", "CONSOLE_PASSWORD", "CONSOLE_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_each_field_reads_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RASA_PORT", "6005")
    monkeypatch.setenv("ASSISTANT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SCALE_RASA_INSTANCES", "3")
    s = RuntimeSettings()
    assert s.rasa_port == 6005 and s.var_dir == tmp_path and s.scale.rasa_instances == 3
    assert RuntimeSettings(rasa_port=7005).rasa_port == 7005  # arguments win


def test_a_child_rebuilds_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = RuntimeSettings(profile="scaled", console_port=6080)
    for name, value in parent.process_env().items():
        monkeypatch.setenv(name, value)
    child = RuntimeSettings()
    assert child.model_dump() == parent.model_dump()


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_PROFILE", "cluster")
    with pytest.raises(ValidationError, match="ASSISTANT_PROFILE"):
        RuntimeSettings()
    monkeypatch.setenv("ASSISTANT_PROFILE", "embedded")
    monkeypatch.setenv("RASA_PORT", "many")
    with pytest.raises(ValidationError, match="RASA_PORT"):
        RuntimeSettings()


def test_the_api_token_is_generated_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = RuntimeSettings().rasa_api_token, RuntimeSettings().rasa_api_token
    assert a != b and len(a) == 48 and not a.startswith("-")
    monkeypatch.setenv("RASA_API_TOKEN", "")
    assert len(RuntimeSettings().rasa_api_token) == 48
    monkeypatch.setenv("RASA_API_TOKEN", "fixed")
    assert RuntimeSettings().rasa_api_token == "fixed"


def test_no_default_secret_and_secrets_do_not_print() -> None:
    scale = ScaleOutSettings()
    assert scale.postgres_password.get_secret_value() == ""
    shown = ScaleOutSettings(postgres_password="s3cret-value")
    assert "s3cret-value" not in repr(shown) and "s3cret-value" not in str(shown.model_dump())
    assert ConsoleAccountSettings().first_admin_password.get_secret_value() == ""


def test_the_local_cluster_password_is_generated_once_and_private(tmp_path: Path) -> None:
    s = RuntimeSettings(profile="scaled", var_dir=tmp_path).with_local_secrets()
    password = s.scale.postgres_password.get_secret_value()
    path = tmp_path / "scaled" / "postgres.password"
    assert len(password) == 48 and path.read_text(encoding="utf-8") == password
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = RuntimeSettings(profile="scaled", var_dir=tmp_path).with_local_secrets()
    assert again.scale.postgres_password.get_secret_value() == password
    assert password in again.scale.postgres_dsn


def test_a_configured_password_and_the_embedded_profile_leave_no_file(tmp_path: Path) -> None:
    configured = RuntimeSettings(profile="scaled", var_dir=tmp_path,
                                 scale=ScaleOutSettings(postgres_password="given"))
    assert configured.with_local_secrets().scale.postgres_password.get_secret_value() == "given"
    RuntimeSettings(var_dir=tmp_path).with_local_secrets()
    assert not (tmp_path / "scaled").exists()
