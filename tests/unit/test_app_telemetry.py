"""app.py: FastAPI's OpenTelemetry reporting is on exactly when a provider was set before start."""

from __future__ import annotations

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from passbridge.app import create_app, telemetry_config
from passbridge.services.context import Env


def test_without_a_configured_provider_fastapi_reports_nothing(env: Env) -> None:
    # The test process sets no global provider: the API hands out its stand-ins.
    defaults = telemetry_config(
        trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()
    )
    assert defaults == {"tracing": False, "metrics": False, "logs": False}
    app = create_app(env)
    assert not app._native_telemetry.enabled()  # no per-request provider look-ups


def test_a_provider_set_at_start_turns_its_reporting_on() -> None:
    proxy_meters, proxy_logs = metrics.get_meter_provider(), _logs.get_logger_provider()
    assert telemetry_config(TracerProvider(), proxy_meters, proxy_logs) == {
        "tracing": True,
        "metrics": False,
        "logs": False,
    }
    assert telemetry_config(trace.get_tracer_provider(), MeterProvider(), proxy_logs)["metrics"] is True
