"""uvicorn's access log line, made for less: `passbridge serve` configures uvicorn with this formatter.

uvicorn's AccessFormatter copies each LogRecord (copy.copy, through __reduce_ex__) and looks the
status phrase up through the HTTPStatus enum: together about half of the access log's cost, and the
access log cost a sixth of a refresh grant's server CPU (bench/README.md). This one writes the same
line from the record's arguments without the copy, with the phrases looked up once. Coloured output
(a terminal) goes through uvicorn's own formatter, unchanged.
"""

from __future__ import annotations

import copy
import http
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

_PHRASES = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}


class AccessFormatter(UvicornAccessFormatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        plain = not self.use_colors and isinstance(self._style, logging.PercentStyle)
        if not plain or not isinstance(record.args, tuple) or len(record.args) != 5:
            return super().formatMessage(record)
        client_addr, method, full_path, http_version, status_code = record.args
        code = int(status_code)  # type: ignore[call-overload]
        values = {
            **record.__dict__,
            "levelprefix": record.levelname + ":" + " " * (8 - len(record.levelname)),
            "client_addr": client_addr,
            "request_line": f"{method} {full_path} HTTP/{http_version}",
            "status_code": _PHRASES.get(code, f"{code} "),
        }
        line: str = self._style._fmt % values
        return line


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with this access formatter."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["()"] = f"{__name__}.AccessFormatter"
    return config
