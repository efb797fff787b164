"""The role each route needs, declared once in its signature: `actor: Reader`, `Editor` or `Admin`.

Roles per workspace: reviewers read, compare and review; editors also upload, curate and build datasets;
admins also delete (and manage members and models). The Actor carries the workspace the request works
in, so a route that declares its role has its workspace too; objects are then looked up within it, and
another workspace's object answers 404 like a missing one.
"""

from typing import Annotated

from fastapi import Depends

from app.auth.deps import Actor, require_role

Reader = Annotated[Actor, Depends(require_role("reviewer"))]
Editor = Annotated[Actor, Depends(require_role("editor"))]
Admin = Annotated[Actor, Depends(require_role("admin"))]
