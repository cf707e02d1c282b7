"""HTTP routes of offline feature tables (write scope): POST /materialize-offline."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
