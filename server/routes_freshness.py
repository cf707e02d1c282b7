"""Monitoring endpoints (read scope): filled in by issue 13."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["monitoring"])
