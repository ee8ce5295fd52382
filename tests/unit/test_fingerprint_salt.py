"""The page-fingerprint salt: stable across processes, changed by any mapping code change."""

from __future__ import annotations

import subprocess
import sys

from pydantic import field_validator

from ait_connectors.entity_types import EntityType
from ait_connectors.vendor import Entity

SALTS = """
from ait_connectors.registry import registered_vendors
for slug, reg in sorted(registered_vendors().items()):
    for name, declared in reg.service_cls.entity_declarations.items():
        print(slug, name, declared.config().fingerprint_salt().hex())
"""


def salts_in_a_new_process() -> str:
    done = subprocess.run(
        [sys.executable, "-c", SALTS], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def test_every_built_in_salt_is_the_same_in_every_process() -> None:
    # A nested code object's repr holds its memory address; hashing it made every process
    # compute another salt, so no page was ever recognised as already stored after a restart.
    first = salts_in_a_new_process()
    assert first.count("\n") >= 12
    assert salts_in_a_new_process() == first


def _salt_of(model: type[Entity]) -> bytes:
    return EntityType(model, page="p", name="things").config().fingerprint_salt()


def _model(lower: bool) -> type[Entity]:
    # The same class name and fields either way: only the validator's code differs.
    class Thing(Entity):
        natural_key = ("id",)
        id: str

        @field_validator("id", mode="before")
        @classmethod
        def _id(cls, value: object) -> str:
            return str(value).lower() if lower else str(value)

    return Thing


def _model_b() -> type[Entity]:
    class Thing(Entity):
        natural_key = ("id",)
        id: str

        @field_validator("id", mode="before")
        @classmethod
        def _id(cls, value: object) -> str:
            return str(value).strip()

    return Thing


def test_a_changed_validator_changes_the_salt() -> None:
    assert _salt_of(_model(True)) == _salt_of(_model(False))  # same code, same salt
    assert _salt_of(_model(True)) != _salt_of(_model_b())
