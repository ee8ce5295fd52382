"""A throwaway PostgreSQL database per test session (mandatory when CI=true)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("AIT_TEST_DATABASE_URL", DEFAULT_URL)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@dataclass
class PostgresServer:
    name: str
    admin: str

    @property
    def url(self) -> str:
        return _with_database(self.admin, self.name).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )

    @property
    def plain_url(self) -> str:
        return _with_database(self.admin, self.name)

    def truncate_all(self) -> None:
        with psycopg.connect(self.plain_url, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ]
            if tables:
                conn.execute(
                    sql.SQL("TRUNCATE {} CASCADE").format(
                        sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                    )
                )

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


def postgres_server_or_skip() -> PostgresServer:
    admin = admin_url()
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            name = f"ait_test_{os.getpid()}_{secrets.token_hex(3)}"
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {admin}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {admin}: {exc}")
    return PostgresServer(name=name, admin=admin)
