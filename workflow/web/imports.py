"""Pages of the imports (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
