"""The schema revision the code needs and the one the database holds, without importing Alembic.

Alembic (and Mako, which it imports) is loaded only to migrate. Checking that a database is
up to date — what every process does on start — reads the ``revision``/``down_revision`` of the
migration scripts with ``ast`` and the ``alembic_version`` row with one query.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

__all__ = ["head_revision", "stored_revision"]

VERSIONS = Path(__file__).with_name("migrations") / "versions"


def _assigned(tree: ast.Module, name: str) -> object:
    """The literal value a script assigns to ``name`` at module level."""
    for node in tree.body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(value)
    raise LookupError(f"no {name} in a migration script")


@cache
def head_revision() -> str | None:
    """The single head of the migration scripts (``None`` when there are none)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        tree = ast.parse(script.read_text(encoding="utf-8"))
        revisions.add(str(_assigned(tree, "revision")))
        down = _assigned(tree, "down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):  # a merge
            parents.update(str(d) for d in down)
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {sorted(heads)}")
    return next(iter(heads), None)


def stored_revision(conn: Connection) -> str | None:
    """The revision in the database's ``alembic_version`` table (``None``: never migrated)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
