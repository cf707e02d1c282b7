"""HTTP routes of lineage and registry history (read scope): GET /lineage/{name}, GET /history."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
