"""HTTP routes of training sets (read scope): GET /training-sets, GET /training-sets/{name}."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
