"""access_log.py: the access line is the one uvicorn's own formatter writes."""

from __future__ import annotations

import logging

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from passbridge.access_log import AccessFormatter, log_config

FMT = LOGGING_CONFIG["formatters"]["access"]["fmt"]


def record(status: int, *, level: int = logging.INFO) -> logging.LogRecord:
    args = ("127.0.0.1:50312", "POST", "/oauth2/v2.0/token?x=%41", "1.1", status)
    return logging.LogRecord("uvicorn.access", level, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)


@pytest.mark.parametrize("status", [200, 201, 303, 400, 404, 429, 500, 599])
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_the_line_is_uvicorns_line(status: int, level: int) -> None:
    ours = AccessFormatter(fmt=FMT, use_colors=False).format(record(status, level=level))
    theirs = UvicornAccessFormatter(fmt=FMT, use_colors=False).format(record(status, level=level))
    assert ours == theirs
    assert f'- "POST /oauth2/v2.0/token?x=%41 HTTP/1.1" {status}' in ours


def test_coloured_lines_are_left_to_uvicorn() -> None:
    ours = AccessFormatter(fmt=FMT, use_colors=True).format(record(200))
    assert ours == UvicornAccessFormatter(fmt=FMT, use_colors=True).format(record(200))
    assert "\x1b[" in ours


def test_serve_configures_the_access_logger_with_it() -> None:
    config = log_config()
    assert config["formatters"]["access"]["()"] == f"{AccessFormatter.__module__}.{AccessFormatter.__name__}"
    assert config["formatters"]["access"]["fmt"] == FMT
    assert {k: v for k, v in config.items() if k != "formatters"} == {
        k: v for k, v in LOGGING_CONFIG.items() if k != "formatters"
    }
    assert LOGGING_CONFIG["formatters"]["access"]["()"] == "uvicorn.logging.AccessFormatter"  # not mutated
