"""Routes for examples (pages, partials and JSON API)."""

from fastapi import APIRouter

router = APIRouter()
