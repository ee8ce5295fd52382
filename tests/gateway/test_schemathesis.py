"""Property-based fuzzing of the gateway with schemathesis, from its own OpenAPI schema.

Every operation gets generated inputs (valid and invalid), sent with a valid API key so that the
code behind authentication runs too. Whatever comes in, the gateway must never answer 5xx.
The budget is bounded (a few examples per operation, no example database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore

from .conftest import ThreadGateway

MAX_EXAMPLES = 12


async def _api_key(settings: Settings) -> str:
    connectors = await Connectors.open(settings)
    try:
        return (await ApiKeyStore(connectors.database).create("fuzz")).key
    finally:
        await connectors.close()


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    gateway = ThreadGateway(Settings(data_dir=data_dir)).start()
    try:
        yield gateway.base_url, asyncio.run(_api_key(gateway.settings))
    finally:
        gateway.stop()


def test_no_server_error_on_generated_input(fuzz_target: tuple[str, str]) -> None:
    base_url, key = fuzz_target
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "the schema documents every route"
    failures: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            headers = {"X-API-Key": key}
            if case.path.endswith("/auth/callback"):
                headers = {}
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert not failures, "\n".join(failures)
