"""``conformance_suite``: the conformance checks of one vendor as a pytest test class.

::

    from ait_connectors.testing import conformance_suite

    TestAcmeConformance = conformance_suite("acme_connector.testing:KIT")

Every check runs for every entity type the declaration lists (and the declaration must list
every entity type the vendor's service has). The data checks use the ``ait_db_url`` fixture
(SQLite unless a conftest overrides it, e.g. with a PostgreSQL URL); the others use SQLite.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from .checks import CHECKS
from .declaration import VendorKit
from .harness import Harness

__all__ = ["PENDING", "VendorConformance", "conformance_suite", "run_check"]

#: Checks that wait for work on another branch: check name -> reason (``xfail(strict=True)``).
PENDING: dict[str, str] = {}
#: Checks of a vendor whose 401 is cured by a refresh; ``unauthorized_needs_reconnect`` stands
#: in for them when the kit says ``refreshes=False``.
_REFRESH_CHECKS = frozenset(
    {
        "unauthorized_refreshes_once",
        "second_unauthorized_needs_reauth",
        "refused_refresh_needs_reauth",
    }
)


class VendorConformance:
    """The checks; :func:`conformance_suite` binds them to one vendor's declaration."""

    kit: ClassVar[VendorKit]
    #: ``"check"`` or ``"check:entity_type"`` -> why it is expected to fail for now.
    pending: ClassVar[Mapping[str, str]] = {}

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "entity_type" not in metafunc.fixturenames:
            return
        check = metafunc.function.__name__.removeprefix("test_")
        params = []
        for entity_type, entity in self.kit.entities.items():
            if check == "foreign_next_link_refused" and not entity.url_cursors:
                continue  # opaque cursors: no origin a next link could change
            if check in _REFRESH_CHECKS and not self.kit.refreshes:
                continue  # nothing to refresh: unauthorized_needs_reconnect checks the 401
            if check == "unauthorized_needs_reconnect" and self.kit.refreshes:
                continue  # a 401 is cured by a refresh: the refresh checks apply
            reason = (
                PENDING.get(check)
                or self.pending.get(f"{check}:{entity_type}")
                or self.pending.get(check)
            )
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(entity_type, marks=marks, id=entity_type))
        if not params:  # e.g. no entity type of this vendor has URL cursors
            na = pytest.mark.skip(reason=f"N/A for {self.kit.vendor}: no entity type to check")
            params = [pytest.param(None, marks=na, id="none")]
        metafunc.parametrize("entity_type", params)

    def _run(self, name: str, db_url: str, entity_type: str, *args: Any) -> None:
        run_check(self.kit, name, db_url, entity_type, *args)

    def test_declares_every_entity_type(self, ait_sqlite_url: str) -> None:
        async def run() -> None:
            async with Harness.start(self.kit, ait_sqlite_url) as harness:
                service = await harness.service()
                await service.aclose()
                assert set(service.entity_types) == set(self.kit.entities)
                declared = type(service).entity_type_names()
                assert not declared or set(declared) == set(self.kit.entities)

        asyncio.run(run())

    # Data checks: on every database the ``ait_db_url`` fixture offers.
    def test_full_unchanged_changed(self, ait_db_url: str, entity_type: str) -> None:
        self._run("full_unchanged_changed", ait_db_url, entity_type)

    def test_removal_swept_after_complete_scan(self, ait_db_url: str, entity_type: str) -> None:
        self._run("removal_swept_after_complete_scan", ait_db_url, entity_type)

    def test_sigkill_then_resume(self, ait_db_url: str, entity_type: str) -> None:
        self._run("sigkill_then_resume", ait_db_url, entity_type)

    # Protocol checks: the database plays no part, SQLite is enough.
    @pytest.mark.parametrize("kind", ["html", "truncated"])
    def test_malformed_body_fails_clearly(
        self, ait_sqlite_url: str, entity_type: str, kind: str
    ) -> None:
        self._run("malformed_body_fails_clearly", ait_sqlite_url, entity_type, kind)

    @pytest.mark.parametrize("mode", ["absent", "null"])
    def test_optional_fields_map(self, ait_sqlite_url: str, entity_type: str, mode: str) -> None:
        self._run("optional_fields_map", ait_sqlite_url, entity_type, mode)

    def test_unauthorized_refreshes_once(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("unauthorized_refreshes_once", ait_sqlite_url, entity_type)

    def test_token_without_expiry_until_401(self, ait_sqlite_url: str) -> None:
        # About the token, not an entity type: one type (the first declared) is enough.
        if not self.kit.refreshes:
            pytest.skip(
                f"N/A for {self.kit.vendor}: its 401 is cured by a reconnect, not a refresh"
            )
        first = next(iter(self.kit.entities))
        self._run("token_without_expiry_until_401", ait_sqlite_url, first)

    def test_second_unauthorized_needs_reauth(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("second_unauthorized_needs_reauth", ait_sqlite_url, entity_type)

    def test_refused_refresh_needs_reauth(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("refused_refresh_needs_reauth", ait_sqlite_url, entity_type)

    def test_unauthorized_needs_reconnect(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("unauthorized_needs_reconnect", ait_sqlite_url, entity_type)

    def test_short_rate_limit_waited_out(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("short_rate_limit_waited_out", ait_sqlite_url, entity_type)

    def test_long_rate_limit_stops(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("long_rate_limit_stops", ait_sqlite_url, entity_type)

    def test_foreign_next_link_refused(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("foreign_next_link_refused", ait_sqlite_url, entity_type)

    def test_repeated_cursor_fails(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("repeated_cursor_fails", ait_sqlite_url, entity_type)

    def test_link_back_cycle_fails(self, ait_sqlite_url: str, entity_type: str) -> None:
        self._run("link_back_cycle_fails", ait_sqlite_url, entity_type)


def run_check(kit: VendorKit, name: str, db_url: str, entity_type: str, *args: Any) -> None:
    """Run one check (a name of :data:`~ait_connectors.testing.checks.CHECKS`) on a fresh
    harness; a failed check raises ``AssertionError``."""
    check = CHECKS[name]

    async def run() -> None:
        async with Harness.start(kit, db_url) as harness:
            await check(harness, entity_type, *args)

    asyncio.run(run())


def conformance_suite(
    kit: VendorKit | str, *, pending: Mapping[str, str] | None = None
) -> type[VendorConformance]:
    """A test class running every check for ``kit`` (or ``"module:NAME"`` naming one).

    ``pending`` marks checks expected to fail for now (``"check"`` or ``"check:entity_type"``
    -> reason); they run as ``xfail(strict=True)``, so a fix is noticed.
    """
    if isinstance(kit, str):
        module, _, name = kit.partition(":")
        kit = getattr(importlib.import_module(module), name)
    assert isinstance(kit, VendorKit), f"{kit!r} is not a VendorKit"
    name = "".join(part.title() for part in kit.vendor.replace("-", "_").split("_"))
    return type(
        f"Test{name}Conformance",
        (VendorConformance,),
        {"kit": kit, "pending": dict(pending or {})},
    )
