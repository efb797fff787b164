"""Routes for uploads (pages, partials and JSON API)."""

from fastapi import APIRouter

router = APIRouter()
