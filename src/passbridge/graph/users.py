"""Graph-compatible routes: users."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
