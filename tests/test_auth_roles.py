"""Roles per workspace: the order, require_role's plain 403, the switcher, and members only."""

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth.deps import ROLES, Actor, require_role, role_at_least


def test_roles_are_ordered_reviewer_editor_admin():
    assert ROLES == ("reviewer", "editor", "admin")
    assert role_at_least("admin", "editor") and role_at_least("editor", "editor")
    assert not role_at_least("reviewer", "editor") and not role_at_least("editor", "admin")
    assert not role_at_least("owner", "reviewer")
    with pytest.raises(ValueError):
        require_role("owner")


def _role_app() -> FastAPI:
    """A tiny app using the real dependencies and handlers (the real routes get them the same way)."""
    from app.auth.csrf import csrf_protect
    from app.auth.wiring import install_auth

    app = FastAPI(dependencies=[Depends(csrf_protect)])
    install_auth(app)

    @app.post("/api/train")
    def train(actor: Actor = Depends(require_role("editor"))) -> dict:
        return {"user": actor.user.email, "workspace": actor.workspace.slug, "role": actor.role}

    @app.get("/members")
    def members(actor: Actor = Depends(require_role("admin"))) -> dict:
        return {"ok": True}

    return app


def test_require_role_answers_403_with_a_plain_message(env):
    from tests.auth_helpers import sign_in

    app = _role_app()
    with TestClient(app) as reviewer, TestClient(app) as editor:
        sign_in(reviewer, "reviewer", "sales")
        sign_in(editor, "editor", "sales")
        refused = reviewer.post("/api/train")
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "You are a reviewer in Sales; editors and admins can do this. Ask a workspace admin."
        )
        assert editor.post("/api/train").json() == {
            "user": editor.user_email,
            "workspace": "sales",
            "role": "editor",
        }
        page = editor.get("/members")
        assert page.status_code == 403
        assert "You are an editor in Sales; only admins can do this. Ask a workspace admin." in page.text
        htmx = editor.get("/members", headers={"HX-Request": "true"})
        assert htmx.status_code == 403 and htmx.text.strip().startswith('<div class="notice notice-err"')


def test_switching_workspace_changes_what_the_session_acts_in(client_as, session):
    from app.auth.tokens import digest
    from app.models import AuthSession, Workspace

    member = client_as("editor", "sales", email="eve@example.com")
    client_as("reviewer", "legal", email="eve@example.com")
    client_as("admin", "board", email="boss@example.com")
    legal = session.scalars(select(Workspace).where(Workspace.slug == "legal")).one()
    board = session.scalars(select(Workspace).where(Workspace.slug == "board")).one()

    page = member.get("/account/password")
    # The switcher lists exactly the user's workspaces.
    assert "Legal" in page.text and "Sales" in page.text and "Board" not in page.text
    response = member.post(
        "/workspaces/switch",
        data={"workspace_id": legal.id, "next": "/examples/12?q=x"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/examples"
    session.expire_all()
    assert session.get(AuthSession, digest(member.session_cookie)).workspace_id == legal.id
    refused = member.post("/workspaces/switch", data={"workspace_id": board.id})
    assert refused.status_code == 404 and "not a member of that workspace" in refused.text
    session.expire_all()
    assert session.get(AuthSession, digest(member.session_cookie)).workspace_id == legal.id


def test_a_user_without_any_workspace_is_told_to_ask_an_admin(client_as):
    loner = client_as(None)
    page = loner.get("/account/password")
    assert page.status_code == 403 and "not a member of any workspace yet" in page.text
    assert loner.get("/api/examples").status_code == 403


def test_audit_record_notes_who_did_what_where(client_as, session):
    from app.auth.audit import record
    from app.models import User, Workspace
    from app.services.audit_log import audit_page

    editor = client_as("editor", "sales", email="eve@example.com")
    user = session.get(User, editor.user_id)
    workspace = session.scalars(select(Workspace).where(Workspace.slug == "sales")).one()
    actor = Actor(user=user, workspace=workspace, role="editor", via_token=False, ip="10.0.0.7")
    record(session, actor, "delete_examples", "3 examples", {"ids": [1, 2, 3]})
    session.commit()
    events = audit_page(session, workspace.id).events
    assert [(e.action, e.target, e.detail, e.ip, e.user_id) for e in events] == [
        ("delete_examples", "3 examples", {"ids": [1, 2, 3]}, "10.0.0.7", user.id)
    ]
    assert audit_page(session, workspace.id + 1000).events == []
