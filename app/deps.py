"""Request dependencies shared by routes: the database session and the current workspace."""

from fastapi import Depends

from app.auth.deps import Actor, require_role
from app.models import Workspace


def current_workspace(actor: Actor = Depends(require_role("reviewer"))) -> Workspace:
    """The workspace the signed-in member acts in (any role); anonymous requests never get here."""
    return actor.workspace
