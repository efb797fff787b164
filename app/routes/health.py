"""GET /healthz: is the database and the broker reachable?"""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import get_engine
from app.queue import broker_reachable

router = APIRouter()


def _database_ok() -> bool:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/healthz", tags=["system"])
async def healthz() -> JSONResponse:
    """200 with component states when all is up, 503 naming what is down."""
    checks = {
        "database": await run_in_threadpool(_database_ok),
        "broker": await run_in_threadpool(broker_reachable),
    }
    down = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not down else "down",
        "checks": {k: "ok" if v else "down" for k, v in checks.items()},
    }
    if down:
        body["down"] = down
    return JSONResponse(body, status_code=503 if down else 200)
