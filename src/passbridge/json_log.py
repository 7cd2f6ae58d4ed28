"""PASSBRIDGE_LOG_FORMAT=json: `passbridge serve` writes one JSON object per line, access lines and
application logs alike, each with the request it belongs to (observe.py's context variable).

Access lines carry the path without its query string: a query can hold what must never reach a log
(a signed link's token, an authorization request's state), and the route template says where the
request went. Nothing else about a request is added here than what the text format already shows.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from passbridge.observe import CURRENT

_LEVELS = {"WARNING": "warning", "ERROR": "error", "CRITICAL": "critical", "INFO": "info", "DEBUG": "debug"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
            "logger": record.name,
        }
        access = record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5
        if access:
            assert isinstance(record.args, tuple)
            client, method, full_path, http_version, status = record.args
            path = str(full_path).split("?", 1)[0]
            line["message"] = f"{method} {path} HTTP/{http_version} {status}"
        else:
            line["message"] = record.getMessage()
        info = CURRENT.get()
        if info is not None:
            line["request_id"] = info.request_id
            line["method"] = info.method
            route = info.route_now()
            if route is not None:
                line["route"] = route
            if info.status is not None:
                line["status"] = info.status
            if info.duration is not None:
                line["duration_ms"] = round(info.duration * 1000, 3)
            if info.client is not None:
                line["client"] = info.client
        elif access:
            # Outside a request's context (should uvicorn ever log from elsewhere): what the line says.
            line.update(method=method, status=status, client=str(client).rsplit(":", 1)[0])
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def json_log_config() -> dict[str, Any]:
    """uvicorn's loggers and Passbridge's, all to stdout as JSON lines, at info."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "passbridge": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }
