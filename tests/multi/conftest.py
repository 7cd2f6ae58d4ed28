"""The multi-process tests that drive a browser share the module-scoped Chromium of tests/web."""

from __future__ import annotations

from tests.web.browser import chromium  # noqa: F401  (the module-scoped browser fixture)
