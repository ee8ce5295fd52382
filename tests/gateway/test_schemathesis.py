"""The gateway conforms to its own OpenAPI document, as schemathesis checks it (issue 10.5).

A real gateway on loopback, with an API key and seeded data (the sandbox's config, Alice's
connection to it, a finished sync run and its records), answers generated requests to every
operation of its ``/openapi.json``: valid ones, invalid ones (wrong types, missing fields, values
out of range, bodies the schema refuses), and valid ones aimed at the seeded data so that the code
behind authentication, lookups and paging runs. Every answer must be documented: its status, its
content type, its body's schema and its headers; invalid input must be refused, valid input never
be refused as invalid, and no operation may answer without its credential.

The budget is bounded (``MAX_EXAMPLES`` per operation, derandomized, no example database). The
methods an operation does not have (405 and ``Allow``) are checked in ``test_api_conformance``:
schemathesis tries them in the coverage phase of its CLI only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup

from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore

from .conftest import ThreadGateway, sandbox_connect, wait_for

MAX_EXAMPLES = 10

CHECK_NAMES = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
]
# Resends an accepted request without its credential, and with a wrong one (five requests): once
# per operation is proof enough that it checks credentials.
AUTH_CHECK = "ignored_auth"

# A valid request may still be refused with 400 for rules a schema cannot state: with an API key,
# user_id is required (a connect token implies it); a provider must be in the catalogue; an
# OAuth state must be one the gateway issued. Never with 415 or 422: those say the schema lied.
CONFIG = {
    "generation": {"with-security-parameters": False},  # the API key below is the credential
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
        }
    },
}


@dataclass(frozen=True)
class Seeded:
    base_url: str
    key: str
    config_id: str
    run_id: str

    def values(self, operation: schemathesis.APIOperation) -> dict[str, dict[str, Any]]:
        """Path and query values of this operation that point at the seeded data."""
        known = {
            "path": {
                "vendor": "sandbox",
                "config_id": self.config_id,
                "run_id": self.run_id,
                "entity": "events",
            },
            # Never cascade: the seeded connection and records must outlive the run.
            "query": {"user_id": "alice", "cascade": False},
        }
        declared = {(p.location.value, p.name) for p in operation.iter_parameters()}
        return {
            where: {name: value for name, value in values.items() if (where, name) in declared}
            for where, values in known.items()
        }


def _seed(gateway: ThreadGateway) -> Seeded:
    async def key() -> str:
        async with await Connectors.open(gateway.settings) as connectors:
            return (await ApiKeyStore(connectors.database).create("fuzz")).key

    api_key = asyncio.run(key())
    headers = {"X-API-Key": api_key, "Accept": "application/json"}
    with httpx.Client(base_url=gateway.base_url, headers=headers) as api:
        assert sandbox_connect(gateway, api, user_id="alice").status_code == 200
        started = api.post(
            "/api/sandbox/sync", params={"user_id": "alice"}, json={"entity_types": ["events"]}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        wait_for(lambda: api.get(f"/api/sandbox/sync/{run_id}").json()["done"])
        connection = api.get("/api/sandbox/connection", params={"user_id": "alice"}).json()
    assert connection["records"]["events"] > 0
    return Seeded(gateway.base_url, api_key, connection["connector_config_id"], run_id)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIT_JOBS", "inline")
        gateway = ThreadGateway(Settings(data_dir=data_dir)).start()
        try:
            yield _seed(gateway)
        finally:
            gateway.stop()


def _order(operation: schemathesis.APIOperation) -> tuple[int, str]:
    """Reads first, then writes; what removes the seeded connection or config last."""
    removes = operation.method.upper() == "DELETE" or operation.path.endswith(
        ("/disable", "/disconnect")
    )
    rank = 3 if removes else {"GET": 0, "POST": 1}.get(operation.method.upper(), 2)
    return rank, operation.label


def _cases(operation: schemathesis.APIOperation, seeded: Seeded) -> st.SearchStrategy[Any]:
    values = seeded.values(operation)
    return st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(
            generation_mode=GenerationMode.POSITIVE,
            path_parameters=values["path"] or None,
            query=values["query"] or None,
        ),
    )


def _run(operation: schemathesis.APIOperation, seeded: Seeded, failures: dict[str, str]) -> None:
    load_all_checks()
    checks = CHECKS.get_by_names(CHECK_NAMES)
    auth_check = CHECKS.get_by_names([AUTH_CHECK])
    headers = {"X-API-Key": seeded.key}
    auth_checked = False

    @given(case=_cases(operation, seeded))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        nonlocal auth_checked
        response = case.call(base_url=seeded.base_url, headers=headers, timeout=10)
        extra = auth_check if response.status_code < 300 and not auth_checked else []
        auth_checked = auth_checked or bool(extra)
        try:
            case.validate_response(response, checks=checks + extra, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                failures.setdefault(f"{operation.label}: {failure.title}", str(group)[:2000])

    check()


def test_gateway_conforms_to_its_openapi_document(seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_url(
        f"{seeded.base_url}/openapi.json", config=schemathesis.Config.from_dict(CONFIG)
    )
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) >= 25, "the schema documents every route"
    failures: dict[str, str] = {}
    for operation in operations:
        _run(operation, seeded, failures)
    assert not failures, "\n\n".join(failures.values())
