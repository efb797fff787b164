"""Routes for datasets (pages, partials and JSON API)."""

from fastapi import APIRouter

router = APIRouter()
