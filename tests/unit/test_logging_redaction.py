"""The redaction filter, through the handlers the application really installs (issue 9 item 6).

pytest's ``caplog`` handler sits on the root logger and never passes through the filter, so these
tests read what the installed handler itself writes: the one ``configure_logging`` adds for the
CLI (its ``--debug`` callback) and the gateway (``serve``), shared by the worker with
Procrastinate's logger, and the gateway's access-log filter on ``uvicorn.access``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from ait_connectors.cli.app import app as cli_app
from ait_connectors.gateway.app import redact_access_log
from ait_connectors.jobs.worker import _share_logging
from ait_connectors.logging import RedactingFilter, configure_logging

ACCESS = "gho_ACCESSvalue1234567890"
REFRESH = "ghr_REFRESHvalue0987654321"
SECRET = "client-SECRET-value-42"
CODE = "auth-CODE-value-77"
VERIFIER = "VERIFIER" + "v" * 40
BASIC = "Y2xpZW50OnNlY3JldA=="  # base64("client:secret")
CONNECT = "act_CONNECTtokenvalue"
SECRETS = (ACCESS, REFRESH, SECRET, CODE, VERIFIER, BASIC, CONNECT)

LOGGERS = ("ait_connectors", "procrastinate", "uvicorn.access")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the loggers this module configures back as they were."""
    saved = {
        name: (lg.level, list(lg.handlers), list(lg.filters), lg.propagate)
        for name in LOGGERS
        if (lg := logging.getLogger(name))
    }
    for name in LOGGERS:  # start from no redacting handler, as a fresh process does
        lg = logging.getLogger(name)
        lg.handlers = [h for h in lg.handlers if not _redacting(h)]
    yield
    for name, (level, handlers, filters, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.setLevel(level)
        lg.handlers, lg.filters, lg.propagate = handlers, filters, propagate


def _redacting(handler: logging.Handler) -> bool:
    return any(isinstance(f, RedactingFilter) for f in handler.filters)


def installed_handler() -> tuple[logging.StreamHandler[io.StringIO], io.StringIO]:
    """The redacting handler on ``ait_connectors``, now writing to a buffer."""
    (handler,) = [h for h in logging.getLogger("ait_connectors").handlers if _redacting(h)]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.stream = buffer  # setStream would flush the old one, maybe closed already
    return handler, buffer


def emit_secrets(logger: logging.Logger) -> None:
    """Every shape a secret takes in this code base's log lines, at DEBUG."""
    logger.debug('token response {"access_token": "%s", "refresh_token": "%s"}', ACCESS, REFRESH)
    logger.debug(
        "POST body: grant_type=refresh_token&refresh_token=%s&client_secret=%s", REFRESH, SECRET
    )
    logger.debug("request headers: %s", {"Authorization": f"Bearer {ACCESS}"})
    logger.debug("request headers: Authorization: Basic %s", BASIC)
    logger.debug("callback /api/x/auth/callback?code=%s&state=s1", CODE)
    logger.debug("exchange with code_verifier=%s", VERIFIER)
    logger.debug("config %r", {"client_secret": SECRET})
    logger.debug("connect link token=%s", CONNECT)
    try:
        raise RuntimeError(f"provider said: access_token={ACCESS}&client_secret={SECRET}")
    except RuntimeError:
        logger.exception("refresh failed")
    logger.debug("where", stack_info=True, extra={"unused": SECRET})


def assert_clean(text: str) -> None:
    assert "refresh failed" in text and "Traceback" in text, text  # it did log
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} reached the log output:\n{text}"


def test_cli_debug_handler_redacts(restore_logging: None) -> None:
    result = CliRunner().invoke(cli_app, ["--debug", "keys", "generate"])
    assert result.exit_code == 0, result.output
    assert logging.getLogger("ait_connectors").level == logging.DEBUG
    _, buffer = installed_handler()
    emit_secrets(logging.getLogger("ait_connectors.oauth.client"))
    assert_clean(buffer.getvalue())


def test_gateway_handler_redacts_at_debug(restore_logging: None) -> None:
    configure_logging("DEBUG")  # what `serve` does with AIT_LOG_LEVEL=DEBUG
    _, buffer = installed_handler()
    emit_secrets(logging.getLogger("ait_connectors.gateway.routes_oauth"))
    assert_clean(buffer.getvalue())


def test_worker_shares_the_redacting_handler_with_procrastinate(restore_logging: None) -> None:
    configure_logging("DEBUG")  # the CLI callback, before `worker` runs
    _share_logging()
    _, buffer = installed_handler()
    procrastinate = logging.getLogger("procrastinate.worker")
    assert procrastinate.getEffectiveLevel() == logging.INFO
    procrastinate.info("job failed: access_token=%s client_secret=%s", ACCESS, SECRET)
    emit_secrets(logging.getLogger("ait_connectors.jobs.tasks"))
    text = buffer.getvalue()
    assert "job failed" in text
    assert_clean(text)


def test_gateway_access_log_masks_query_credentials(restore_logging: None) -> None:
    redact_access_log()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    access.setLevel(logging.DEBUG)
    # uvicorn's access record: client, method, path with query, HTTP version, status.
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        f"/api/x/auth/callback?code={CODE}&state=st&token={CONNECT}",
        "1.1",
        302,
    )
    nonce = "flow-nonce-0123456789abcdef"
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        f"/api/x/auth/start?state=st&flow={nonce}",
        "1.1",
        302,
    )
    text = buffer.getvalue()
    assert "/api/x/auth/callback" in text
    assert CODE not in text and CONNECT not in text
    assert "/api/x/auth/start" in text
    assert nonce not in text  # the start link's browser nonce
