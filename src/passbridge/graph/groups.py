"""Graph-compatible routes: groups."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
