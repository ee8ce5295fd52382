"""``Settings`` reads the environment as pydantic-settings' ``BaseSettings`` would (it no longer
imports pydantic-settings: issue 12, point 4), checked side by side on the same inputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ait_connectors.settings import Settings


class Reference(Settings, BaseSettings):
    """The same fields and validators, the environment read by ``BaseSettings``."""

    model_config = SettingsConfigDict(env_prefix="AIT_", extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _read_environment(cls, data: Any) -> Any:  # replaces ours: BaseSettings reads it
        return data


CASES: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({}, {}),
    ({"AIT_DATABASE_URL": "postgresql://u@h:5432/d", "AIT_PORT": "9000"}, {}),
    ({"ait_port": "9001", "Ait_Host": "0.0.0.0", "AIT_LOG_LEVEL": "debug"}, {}),  # any case
    ({"AIT_SANDBOX": "yes", "AIT_TOKEN_EXPIRY_SKEW": "0", "AIT_HTTP_TIMEOUT": "2.5"}, {}),
    ({"AIT_SANDBOX": "off", "AIT_DATA_DIR": "/tmp/somewhere", "AIT_DATABASE_URL": "  "}, {}),
    ({"AIT_ENCRYPTION_KEY": "ab" * 32, "AIT_ENCRYPTION_OLD_KEYS": ""}, {}),
    ({"AIT_NOT_A_SETTING": "x", "AIT_": "y", "DATABASE_URL": "sqlite:///ignored.db"}, {}),
    ({"AIT_PORT": "9000", "AIT_HOST": "::"}, {"port": 9100, "public_url": "http://a"}),  # args win
    ({"AIT_DATABASE_URL": "sqlite:///x.db"}, {"database_url": None, "unknown": 1}),
]
INVALID: list[dict[str, str]] = [
    {"AIT_PORT": "eighty"},
    {"AIT_SANDBOX": "maybe"},
    {"AIT_HTTP_TIMEOUT": "0", "AIT_TOKEN_EXPIRY_SKEW": "-1"},
    {"AIT_DATABASE_URL": "mysql://u@h/d"},
    {"AIT_SANDBOX": ""},
]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.upper().startswith("AIT"):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("env", "kwargs"), CASES)
def test_values_are_those_of_base_settings(
    environ: pytest.MonkeyPatch, env: dict[str, str], kwargs: dict[str, Any]
) -> None:
    for key, value in env.items():
        environ.setenv(key, value)
    ours, theirs = Settings(**kwargs), Reference(**kwargs)
    assert ours.model_dump() == theirs.model_dump()
    assert ours.resolved_database_url == theirs.resolved_database_url


@pytest.mark.parametrize("env", INVALID)
def test_errors_are_those_of_base_settings(
    environ: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for key, value in env.items():
        environ.setenv(key, value)

    def problems(cls: type[Settings]) -> list[tuple[Any, ...]]:
        with pytest.raises((ValidationError, Exception)) as info:
            cls()
        if isinstance(info.value, ValidationError):
            return [(e["loc"], e["msg"], e["type"]) for e in info.value.errors()]
        return [(type(info.value), str(info.value))]

    assert problems(Settings) == problems(Reference)


def test_frozen_and_defaults_validated(environ: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert isinstance(settings.data_dir, Path)
    assert settings.database_url is None
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]
