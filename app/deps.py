"""Request dependencies shared by routes: the database session and the current workspace."""

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import get_session
from app.models import Workspace


def current_workspace(session: Session = Depends(get_session)) -> Workspace:
    """The workspace the request acts in; the default one until accounts exist."""
    workspace = session.scalars(select(Workspace).order_by(Workspace.id).limit(1)).first()
    if workspace is None:
        raise RuntimeError("No workspace found: run `lastmile migrate` first.")
    return workspace
