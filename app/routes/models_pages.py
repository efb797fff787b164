"""The /models page: the base models a run can teach, their size and whether this install can run them."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.db import get_session
from app.routes.roles import Reader
from app.routes.run_views import model_choices
from app.routes.views import render
from app.services import model_catalog as catalog

router = APIRouter(include_in_schema=False)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The catalog, smallest first, with the worker's memory when one has reported."""
    context = {
        "workspace": actor.workspace,
        "section": "models",
        "models": model_choices(session, actor.workspace.id),
        "capacity": catalog.best_capacity(session),
    }
    return render(request, "models/index.html", context)
