"""Settings, the embedded default, key rotation and the core CLI commands, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ait_connectors.crypto import Cipher, generate_key
from ait_connectors.errors import ConfigurationError, EncryptionError
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings, get_settings
from ait_connectors.storage.keys import rotate_keys
from ait_connectors.storage.states import OAuthStateStore

SECRET = "cli-secret-value-123"


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    return subprocess.run(
        [sys.executable, "-m", "ait_connectors", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
        check=False,
    )


def test_defaults_are_embedded_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = get_settings()
    assert settings.embedded and settings.is_sqlite
    assert settings.resolved_database_url.endswith(str(tmp_path / "data" / "ait-connectors.db"))
    pg = Settings(database_url="postgresql://u@h:5432/d")
    assert pg.resolved_database_url == "postgresql+psycopg://u@h:5432/d"
    assert not pg.sandbox_enabled and settings.sandbox_enabled


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIT_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigurationError, match="AIT_DATABASE_URL"):
        get_settings()
    monkeypatch.delenv("AIT_DATABASE_URL")
    get_settings.cache_clear()
    monkeypatch.setenv("AIT_HTTP_TIMEOUT", "-1")
    with pytest.raises(ConfigurationError, match="AIT_HTTP_TIMEOUT"):
        get_settings()


async def test_embedded_default_migrates_itself_and_keeps_no_secret_in_clear(
    tmp_path: Path,
) -> None:
    connectors = await Connectors.open()
    try:
        config = await connectors.configs.create(
            "spotify", client_id="cid", client_secret=SECRET, redirect_uri="http://127.0.0.1/cb"
        )
        await connectors.tokens.save_oauth_data(
            config.id,
            "u1",
            TokenResponse.from_payload(
                {
                    "access_token": "AT-plain-text-123",
                    "refresh_token": "RT-plain-text-456",
                    "expires_in": 60,
                }
            ),
        )
        await OAuthStateStore(connectors.database, connectors.cipher).create(
            provider="spotify",
            connector_config_id=config.id,
            user_id="u1",
            code_verifier="VERIFIER-789xyz",
        )
    finally:
        await connectors.close()
    data_dir = tmp_path / "data"
    assert (data_dir / "encryption.key").exists()
    raw = b"".join(
        p.read_bytes() for p in data_dir.iterdir() if p.name.startswith("ait-connectors.db")
    )
    assert raw, "the database file exists"
    for secret in (SECRET, "AT-plain-text-123", "RT-plain-text-456", "VERIFIER-789xyz"):
        assert secret.encode() not in raw


async def test_rotate_then_drop_old_key(database, encryption_key: str) -> None:  # type: ignore[no-untyped-def]
    old = Cipher(bytes.fromhex(encryption_key))
    connectors = Connectors(Settings(), database, old)
    config = await connectors.configs.create(
        "github", client_id="cid", client_secret=SECRET, redirect_uri="http://127.0.0.1/cb"
    )
    await connectors.tokens.save_oauth_data(
        config.id, "u1", TokenResponse.from_payload({"access_token": "AT1", "refresh_token": "RT1"})
    )
    await connectors.states.create(
        provider="github", connector_config_id=config.id, user_id="u1", code_verifier="V1"
    )

    new_key = bytes.fromhex(generate_key())
    both = Cipher(new_key, [bytes.fromhex(encryption_key)])
    changed = await rotate_keys(database, both)
    assert changed == {"connector_configs": 1, "oauth_tokens": 1, "oauth_states": 1}
    assert await rotate_keys(database, both) == {
        "connector_configs": 0,
        "oauth_tokens": 0,
        "oauth_states": 0,
    }

    only_new = Connectors(Settings(), database, Cipher(new_key))
    again = await only_new.configs.get(config.id)
    assert again.client_secret is not None and again.client_secret.get_secret_value() == SECRET
    token = await only_new.tokens.get_oauth_data(config.id, "u1")
    assert token is not None and token.refresh_token is not None
    assert token.refresh_token.get_secret_value() == "RT1"
    # And the old key alone no longer decrypts anything.
    with pytest.raises(EncryptionError):
        await connectors.configs.get(config.id)


def test_cli_configs_keys_and_errors(tmp_path: Path) -> None:
    env = {"AIT_DATA_DIR": str(tmp_path / "cli")}
    assert cli("db", "upgrade", env=env).returncode == 0

    added = cli(
        "configs",
        "add",
        "github",
        "--client-id",
        "Iv1.abc",
        "--client-secret-stdin",
        env=env,
        stdin=SECRET + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert SECRET not in added.stdout + added.stderr
    listed = cli("configs", "list", env=env)
    assert listed.returncode == 0 and "github" in listed.stdout and "Iv1.abc" in listed.stdout
    assert SECRET not in listed.stdout + listed.stderr

    config_id = next(
        line.split("(")[-1].rstrip(").") for line in added.stdout.splitlines() if "Added" in line
    )
    updated = cli(
        "configs",
        "update",
        config_id,
        "--name",
        "gh-main",
        "--client-secret-stdin",
        "--disable",
        env=env,
        stdin="new-secret-value\n",
    )
    assert updated.returncode == 0, updated.stderr
    assert "version 2" in updated.stdout
    relisted = cli("configs", "list", env=env)
    assert "gh-main" in relisted.stdout and "new-secret-value" not in relisted.stdout
    assert cli("configs", "update", config_id, "--enable", env=env).returncode == 0

    # Errors are one line, a non-zero exit, and no traceback.
    missing = cli("configs", "add", "github", "--client-id", "x", env=env)
    assert missing.returncode != 0
    assert "Traceback" not in missing.stderr
    assert "--client-secret-stdin" in missing.stderr
    unknown = cli("configs", "add", "nope", "--client-id", "x", "--public", env=env)
    assert (
        unknown.returncode != 0 and "nope" in unknown.stderr and "Traceback" not in unknown.stderr
    )
    bad_key = cli("configs", "list", env={**env, "AIT_ENCRYPTION_KEY": "short"})
    assert bad_key.returncode != 0
    assert "AIT_ENCRYPTION_KEY" in bad_key.stderr and "Traceback" not in bad_key.stderr

    # keys rotate: move to a new key, keep the old one as an old key, rotate, then drop it.
    old_key = (tmp_path / "cli" / "encryption.key").read_text().strip()
    new_key = generate_key()
    rotated = cli(
        "keys",
        "rotate",
        env={**env, "AIT_ENCRYPTION_KEY": new_key, "AIT_ENCRYPTION_OLD_KEYS": old_key},
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-encrypted 1 rows" in rotated.stdout
    after = cli("configs", "list", env={**env, "AIT_ENCRYPTION_KEY": new_key})
    assert after.returncode == 0 and "Iv1.abc" in after.stdout, after.stderr
    wrong = cli("configs", "list", env={**env, "AIT_ENCRYPTION_KEY": generate_key()})
    assert wrong.returncode != 0
    assert "AIT_ENCRYPTION_OLD_KEYS" in wrong.stderr and "Traceback" not in wrong.stderr
