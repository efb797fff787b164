"""The application's routes as the security tests see them: the lowest role each one needs, a minimal valid
request for it, and a set of objects in a workspace to aim the requests at.

A route of the app without an entry in EXPECTATIONS fails the tests that use this table, so a new route
cannot ship without someone deciding who may call it.
"""

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Dataset,
    DatasetExample,
    Document,
    ImportBatch,
    ImportItem,
    MembershipOffer,
    Notice,
    OneTimeLink,
    Run,
    Workspace,
)
from app.review_models import Generation

# Who may call a route: anyone, any signed-in member (account pages), or a role and above.
PUBLIC, USER, REVIEWER, EDITOR, ADMIN = "public", "user", "reviewer", "editor", "admin"
RANK = {USER: 0, REVIEWER: 0, EDITOR: 1, ADMIN: 2}
ACTOR_RANK = {"reviewer": 0, "editor": 1, "admin": 2}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_counter = itertools.count(1)


def unique() -> int:
    """A number no other request of this test session used (for names that must be unique)."""
    return next(_counter)


@dataclass
class Objects:
    """One workspace's objects of every kind a route can name in its path."""

    workspace_id: int
    workspace_name: str
    marker: str
    document_id: int
    example_id: int
    duplicate_ids: list[int]
    dataset_id: int
    snapshot_id: int
    batch_id: int
    member_user_id: int
    invite_id: int
    # Training: a queued run on the dataset and a notice about it (0 where a test builds Objects itself).
    run_id: int = 0
    notice_id: int = 0
    # Compare and review: the run's adapter, its finished comparison and that comparison's one pair.
    adapter_id: int = 0
    comparison_id: int = 0
    item_id: int = 0
    # Drafting: a finished draft written by that adapter (whose files are in the artifact store).
    generation_id: int = 0
    # Accounts: an unanswered offer of membership to an existing account.
    offer_id: int = 0


@dataclass
class Call:
    """What a request body is built from: the objects aimed at, who sends it, and the database."""

    objects: Objects | None
    actor_workspace_id: int | None
    session: Session


Body = Callable[[Call], dict[str, Any]]


@dataclass(frozen=True)
class Expect:
    """The lowest role a route needs, what a lower role gets, and a minimal valid request for it.

    `below` is the answer for a signed-in member whose role is too low: 403, except where a route looks
    the object up before it checks the role (then 404 says as little).
    """

    role: str
    body: Body | None = None
    below: frozenset[int] = field(default_factory=lambda: frozenset({403}))
    resign: bool = False  # the request ends the caller's session (sign-out): sign in again after it


def _e(role: str, body: Body | None = None, **kwargs: Any) -> Expect:
    """Shorthand for an Expect."""
    return Expect(role, body, **kwargs)


def _form(**values: Any) -> Body:
    """A body of fixed form fields."""
    return lambda call: {"data": values}


def _json(**values: Any) -> Body:
    """A body of fixed JSON fields."""
    return lambda call: {"json": values}


def _upload_file(call: Call) -> dict[str, Any]:
    """One small text file, as a browser's file input sends it."""
    return {"files": [("files", (f"note-{unique()}.txt", b"Dear client, thank you.", "text/plain"))]}


def _ids(call: Call) -> list[int]:
    """The example the request aims at, as a list of ids."""
    return [call.objects.example_id] if call.objects else []


def _fix_code(call: Call) -> str:
    """The code of a finding that has a one-click fix in the workspace (the objects hold duplicates)."""
    from app.services.health import workspace_report

    if call.objects is None:
        return "nothing"
    report = workspace_report(call.session, call.objects.workspace_id)
    return next((f.code for f in report.findings if f.fix), "nothing")


def _dataset(call: Call) -> int:
    """The dataset the request aims at (its examples have no held-out ones, so a start is refused: 422)."""
    return call.objects.dataset_id if call.objects else 0


def _new_email(prefix: str) -> str:
    """An address nobody has an account for."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def _ws_name(call: Call) -> str:
    """The aimed-at workspace's current name (a rename that keeps it, so markers stay)."""
    return call.objects.workspace_name if call.objects else "Nobody's"


EXPECTATIONS: dict[tuple[str, str], Expect] = {
    # ---- public: sign-in pages, links, health, redirects -------------------------------------------
    ("GET", "/"): _e(PUBLIC),
    ("GET", "/favicon.ico"): _e(PUBLIC),
    ("GET", "/healthz"): _e(PUBLIC),
    ("GET", "/setup"): _e(PUBLIC),
    ("POST", "/setup"): _e(PUBLIC, _form(email="x@example.com", password="", password_confirm="")),
    ("GET", "/login"): _e(PUBLIC),
    ("POST", "/login"): _e(PUBLIC, _form(email="", password="")),
    ("POST", "/logout"): _e(PUBLIC, resign=True),
    ("GET", "/invite/{token}"): _e(PUBLIC),
    ("POST", "/invite/{token}"): _e(PUBLIC, _form(name="", password="short", password_confirm="other")),
    ("GET", "/reset/{token}"): _e(PUBLIC),
    ("POST", "/reset/{token}"): _e(PUBLIC, _form(password="short", password_confirm="other")),
    # ---- any signed-in member: their own account, the API docs --------------------------------------
    ("GET", "/docs"): _e(USER),
    ("GET", "/openapi.json"): _e(USER),
    ("GET", "/account"): _e(USER),
    ("GET", "/account/password"): _e(USER),
    ("POST", "/account/password"): _e(
        USER, _form(current_password="not it", new_password="x", new_password_confirm="x")
    ),
    ("POST", "/account/tokens"): _e(USER, _form(name="script")),
    ("POST", "/account/tokens/{token_id}/revoke"): _e(USER),
    ("GET", "/account/offers"): _e(USER),
    ("POST", "/account/offers/{offer_id}/accept"): _e(USER),
    ("POST", "/account/offers/{offer_id}/decline"): _e(USER),
    ("GET", "/api/offers"): _e(USER),
    ("POST", "/api/offers/{offer_id}/accept"): _e(USER),
    ("POST", "/api/offers/{offer_id}/decline"): _e(USER),
    ("POST", "/workspaces/switch"): _e(
        USER, lambda call: {"data": {"workspace_id": call.actor_workspace_id or 0, "next": "/examples"}}
    ),
    ("GET", "/api/users/me"): _e(USER),
    ("GET", "/api/workspaces"): _e(USER),
    ("GET", "/api/tokens"): _e(USER),
    ("POST", "/api/tokens"): _e(USER, _json(name="script")),
    ("DELETE", "/api/tokens/{token_id}"): _e(USER),
    # ---- upload: reading is for reviewers, uploading for editors ------------------------------------
    ("GET", "/upload"): _e(REVIEWER),
    ("GET", "/upload/recent"): _e(REVIEWER),
    ("GET", "/upload/batches/{batch_id}"): _e(REVIEWER),
    ("POST", "/upload"): _e(EDITOR, _upload_file),
    ("POST", "/upload/text"): _e(EDITOR, _form(title="Pasted", text="Dear client, thank you.")),
    ("POST", "/upload/sample"): _e(EDITOR),
    ("POST", "/upload/batches/{batch_id}/retry"): _e(EDITOR),
    ("POST", "/uploads/documents/{document_id}/mapping"): _e(
        EDITOR, _form(instruction="Question", output="Answer")
    ),
    ("GET", "/api/uploads"): _e(REVIEWER),
    ("GET", "/api/uploads/{batch_id}"): _e(REVIEWER),
    ("GET", "/api/documents"): _e(REVIEWER),
    ("GET", "/api/documents/{document_id}/original"): _e(REVIEWER),
    ("POST", "/api/uploads"): _e(EDITOR, _upload_file),
    ("POST", "/api/uploads/text"): _e(EDITOR, _json(title="Pasted", text="Dear client, thank you.")),
    ("POST", "/api/sample-data"): _e(EDITOR),
    ("POST", "/api/uploads/{batch_id}/retry"): _e(EDITOR),
    ("POST", "/api/documents/{document_id}/mapping"): _e(
        EDITOR, _json(instruction="Question", output="Answer")
    ),
    # ---- examples: reading for reviewers, curating for editors, deleting for admins ----------------
    ("GET", "/examples"): _e(REVIEWER),
    ("GET", "/examples/table"): _e(REVIEWER),
    ("GET", "/examples/health"): _e(REVIEWER),
    ("GET", "/examples/{example_id}/row"): _e(REVIEWER),
    ("GET", "/examples/{example_id}/edit"): _e(EDITOR),
    ("POST", "/examples/{example_id}"): _e(
        EDITOR,
        _form(instruction="Write the reply", input="", output="Dear client, done.", kind="draft", tags="a"),
    ),
    ("POST", "/examples/{example_id}/included"): _e(EDITOR),
    ("POST", "/examples/bulk"): _e(EDITOR, lambda call: {"data": {"action": "include", "ids": _ids(call)}}),
    ("POST", "/examples/health/fix"): _e(EDITOR, lambda call: {"data": {"code": _fix_code(call)}}),
    ("POST", "/examples/{example_id}/split"): _e(EDITOR),
    ("POST", "/examples/health/split-long"): _e(EDITOR),
    ("GET", "/api/examples"): _e(REVIEWER),
    ("GET", "/api/examples/{example_id}"): _e(REVIEWER),
    ("GET", "/api/health"): _e(REVIEWER),
    ("POST", "/api/examples"): _e(EDITOR, _json(instruction="Write the reply", output="Dear client, done.")),
    ("PATCH", "/api/examples/{example_id}"): _e(EDITOR, _json(tags=["checked"])),
    ("DELETE", "/api/examples/{example_id}"): _e(ADMIN),
    ("POST", "/api/examples/bulk"): _e(
        EDITOR, lambda call: {"json": {"action": "include", "ids": _ids(call)}}
    ),
    ("POST", "/api/health/fix"): _e(EDITOR, lambda call: {"json": {"code": _fix_code(call)}}),
    ("POST", "/api/examples/{example_id}/split"): _e(EDITOR),
    ("POST", "/api/health/split-long"): _e(EDITOR),
    # ---- datasets ----------------------------------------------------------------------------------
    ("GET", "/datasets"): _e(REVIEWER),
    ("GET", "/datasets/new"): _e(EDITOR),
    ("GET", "/datasets/{dataset_id}"): _e(REVIEWER),
    ("GET", "/datasets/{dataset_id}/health"): _e(REVIEWER),
    ("GET", "/datasets/{dataset_id}/export"): _e(REVIEWER),
    ("POST", "/datasets"): _e(EDITOR, lambda call: {"data": {"name": f"Made {unique()}", "source": "none"}}),
    ("POST", "/datasets/{dataset_id}/rename"): _e(
        EDITOR, lambda call: {"data": {"name": f"Renamed {unique()}", "description": "d"}}
    ),
    ("POST", "/datasets/{dataset_id}/delete"): _e(ADMIN),
    ("POST", "/datasets/{dataset_id}/snapshots"): _e(EDITOR),
    ("GET", "/api/datasets"): _e(REVIEWER),
    ("GET", "/api/datasets/{dataset_id}"): _e(REVIEWER),
    ("GET", "/api/datasets/{dataset_id}/snapshots"): _e(REVIEWER),
    ("GET", "/api/datasets/{dataset_id}/export"): _e(REVIEWER),
    ("POST", "/api/datasets"): _e(EDITOR, lambda call: {"json": {"name": f"Made {unique()}"}}),
    ("PATCH", "/api/datasets/{dataset_id}"): _e(EDITOR, _json(description="Checked")),
    ("DELETE", "/api/datasets/{dataset_id}"): _e(ADMIN),
    ("POST", "/api/datasets/{dataset_id}/examples"): _e(EDITOR, lambda call: {"json": {"ids": _ids(call)}}),
    ("POST", "/api/datasets/{dataset_id}/examples/remove"): _e(
        EDITOR, lambda call: {"json": {"ids": _ids(call)}}
    ),
    ("POST", "/api/datasets/{dataset_id}/snapshots"): _e(EDITOR),
    # ---- training runs and models: reading for reviewers, starting and cancelling for editors -------
    ("GET", "/runs"): _e(REVIEWER),
    ("GET", "/runs/list"): _e(REVIEWER),
    ("GET", "/runs/new"): _e(REVIEWER),
    ("POST", "/runs/estimate"): _e(REVIEWER, lambda call: {"data": {"dataset_id": _dataset(call)}}),
    ("POST", "/runs"): _e(EDITOR, lambda call: {"data": {"dataset_id": _dataset(call), "preset": "quick"}}),
    ("GET", "/runs/{run_id}"): _e(REVIEWER),
    ("GET", "/runs/{run_id}/status"): _e(REVIEWER),
    ("POST", "/runs/{run_id}/cancel"): _e(EDITOR),
    ("GET", "/notices/runs"): _e(REVIEWER),
    ("POST", "/notices/{notice_id}/dismiss"): _e(REVIEWER),
    ("GET", "/models"): _e(REVIEWER),
    ("GET", "/api/runs"): _e(REVIEWER),
    ("GET", "/api/runs/{run_id}"): _e(REVIEWER),
    ("POST", "/api/runs/estimate"): _e(REVIEWER, lambda call: {"json": {"dataset_id": _dataset(call)}}),
    ("POST", "/api/runs"): _e(
        EDITOR, lambda call: {"json": {"dataset_id": _dataset(call), "preset": "quick"}}
    ),
    ("POST", "/api/runs/{run_id}/cancel"): _e(EDITOR),
    ("GET", "/api/models"): _e(REVIEWER),
    # ---- compare and blind review: reading and voting for reviewers, changing examples for editors -----
    ("GET", "/runs/{run_id}/comparison"): _e(REVIEWER),
    ("GET", "/compare/{comparison_id}"): _e(REVIEWER),
    ("GET", "/compare/{comparison_id}/live"): _e(REVIEWER),
    ("POST", "/compare/items/{item_id}/promote"): _e(EDITOR, _form(output="Dear client, it ships today.")),
    ("POST", "/compare/items/{item_id}/bad-reference"): _e(EDITOR),
    ("GET", "/review"): _e(REVIEWER),
    ("GET", "/review/{comparison_id}"): _e(REVIEWER),
    ("POST", "/review/items/{item_id}/vote"): _e(REVIEWER, _form(choice="A", comment="Sounds like us.")),
    ("GET", "/api/comparisons"): _e(REVIEWER),
    ("GET", "/api/comparisons/{comparison_id}"): _e(REVIEWER),
    ("GET", "/api/comparisons/{comparison_id}/next-pair"): _e(REVIEWER),
    ("PUT", "/api/comparison-items/{item_id}/judgement"): _e(REVIEWER, _json(choice="B", comment="")),
    ("POST", "/api/comparison-items/{item_id}/promote"): _e(
        EDITOR, _json(output="Dear client, it ships today.")
    ),
    ("POST", "/api/comparison-items/{item_id}/bad-reference"): _e(EDITOR),
    # ---- adapter library: reading and downloading for reviewers, renaming and retraining for editors,
    # deleting for admins. The objects' snapshot has no held-out examples, so a retrain is refused (422).
    ("GET", "/adapters"): _e(REVIEWER),
    ("POST", "/adapters/{adapter_id}/rename"): _e(EDITOR, _form(name="Renamed adapter")),
    ("POST", "/adapters/{adapter_id}/delete"): _e(ADMIN),
    ("GET", "/adapters/{adapter_id}/download"): _e(REVIEWER),
    ("POST", "/adapters/{adapter_id}/train-again"): _e(
        EDITOR, lambda call: {"data": {"base_model_id": _model_id(call)}}
    ),
    ("GET", "/api/adapters"): _e(REVIEWER),
    ("GET", "/api/adapters/{adapter_id}"): _e(REVIEWER),
    ("PATCH", "/api/adapters/{adapter_id}"): _e(EDITOR, _json(name="Renamed adapter")),
    ("DELETE", "/api/adapters/{adapter_id}"): _e(ADMIN),
    ("GET", "/api/adapters/{adapter_id}/download"): _e(REVIEWER),
    ("POST", "/api/adapters/{adapter_id}/train-again"): _e(
        EDITOR, lambda call: {"json": {"base_model_id": _model_id(call)}}
    ),
    # ---- drafts, new briefs, generations and the OpenAI-compatible API: every member may draft. The
    # requests sent here are refused (unknown model, empty brief, streaming), so nothing waits for a worker.
    ("GET", "/drafts"): _e(REVIEWER),
    ("POST", "/drafts"): _e(REVIEWER, _form(model="adapter-0", brief="Write to the client")),
    ("GET", "/drafts/{generation_id}"): _e(REVIEWER),
    ("GET", "/drafts/{generation_id}/status"): _e(REVIEWER),
    ("GET", "/drafts/{generation_id}/download"): _e(REVIEWER),
    ("GET", "/briefs/new"): _e(
        REVIEWER, lambda call: {"params": {"adapter_id": call.objects.adapter_id if call.objects else 0}}
    ),
    ("POST", "/briefs"): _e(
        REVIEWER, lambda call: {"data": {"adapter_id": call.objects.adapter_id if call.objects else 0}}
    ),
    ("GET", "/briefs/{generation_id}"): _e(REVIEWER),
    ("POST", "/api/generations"): _e(REVIEWER, _json(model="adapter-0", brief="Write to the client")),
    ("GET", "/api/generations"): _e(REVIEWER),
    ("GET", "/api/generations/{generation_id}"): _e(REVIEWER),
    ("GET", "/api/generations/{generation_id}/download"): _e(REVIEWER),
    ("GET", "/v1/models"): _e(REVIEWER),
    ("POST", "/v1/chat/completions"): _e(
        REVIEWER, _json(model="adapter-0", messages=[{"role": "user", "content": "Hi"}], stream=True)
    ),
    # ---- workspaces and members: admins (of the workspace in the path) -----------------------------
    ("GET", "/workspaces"): _e(ADMIN),
    ("POST", "/workspaces"): _e(ADMIN, lambda call: {"data": {"name": f"Team {unique()}"}}),
    ("GET", "/workspaces/{workspace_id}"): _e(ADMIN),
    ("POST", "/workspaces/{workspace_id}/rename"): _e(ADMIN, lambda call: {"data": {"name": _ws_name(call)}}),
    ("POST", "/workspaces/{workspace_id}/delete"): _e(ADMIN, _form(confirm="not the name")),
    ("GET", "/workspaces/{workspace_id}/members"): _e(ADMIN),
    ("POST", "/workspaces/{workspace_id}/members"): _e(
        ADMIN, lambda call: {"data": {"email": _new_email("nobody"), "role": "reviewer"}}
    ),
    ("POST", "/workspaces/{workspace_id}/members/{user_id}/role"): _e(ADMIN, _form(role="editor")),
    ("POST", "/workspaces/{workspace_id}/members/{user_id}/remove"): _e(ADMIN),
    ("POST", "/workspaces/{workspace_id}/members/{user_id}/reset-link"): _e(ADMIN),
    ("POST", "/workspaces/{workspace_id}/invites"): _e(
        ADMIN, lambda call: {"data": {"email": _new_email("invitee"), "name": "", "role": "reviewer"}}
    ),
    ("POST", "/workspaces/{workspace_id}/invites/{invite_id}/renew"): _e(ADMIN),
    ("POST", "/workspaces/{workspace_id}/invites/{invite_id}/cancel"): _e(ADMIN),
    ("GET", "/workspaces/{workspace_id}/audit"): _e(ADMIN),
    ("POST", "/workspaces/{workspace_id}/offers/{offer_id}/withdraw"): _e(ADMIN),
    ("GET", "/api/workspaces/{workspace_id}/offers"): _e(ADMIN),
    ("DELETE", "/api/workspaces/{workspace_id}/offers/{offer_id}"): _e(ADMIN),
    ("POST", "/api/workspaces"): _e(ADMIN, lambda call: {"json": {"name": f"Team {unique()}"}}),
    ("PATCH", "/api/workspaces/{workspace_id}"): _e(ADMIN, lambda call: {"json": {"name": _ws_name(call)}}),
    ("DELETE", "/api/workspaces/{workspace_id}"): _e(ADMIN, lambda call: {"params": {"confirm": "not it"}}),
    ("GET", "/api/workspaces/{workspace_id}/members"): _e(ADMIN),
    ("POST", "/api/workspaces/{workspace_id}/members"): _e(
        ADMIN, lambda call: {"json": {"email": _new_email("nobody"), "role": "reviewer"}}
    ),
    ("PATCH", "/api/workspaces/{workspace_id}/members/{user_id}"): _e(ADMIN, _json(role="editor")),
    ("DELETE", "/api/workspaces/{workspace_id}/members/{user_id}"): _e(ADMIN),
    ("POST", "/api/workspaces/{workspace_id}/members/{user_id}/reset-link"): _e(ADMIN),
    ("GET", "/api/workspaces/{workspace_id}/invites"): _e(ADMIN),
    ("POST", "/api/workspaces/{workspace_id}/invites"): _e(
        ADMIN, lambda call: {"json": {"email": _new_email("invitee"), "role": "reviewer"}}
    ),
    ("DELETE", "/api/workspaces/{workspace_id}/invites/{invite_id}"): _e(ADMIN),
    ("GET", "/api/users"): _e(ADMIN),
    ("POST", "/api/users"): _e(
        ADMIN, lambda call: {"json": {"email": _new_email("new"), "role": "reviewer"}}
    ),
    # The user is looked up among the workspaces the caller administers first: a reviewer learns
    # nothing about who exists (404), which is as good as the 403 other routes answer.
    ("POST", "/api/users/{user_id}/reset-link"): _e(ADMIN, below=frozenset({403, 404})),
    ("GET", "/api/audit"): _e(ADMIN),
}

# Path parameters that name a workspace's object, and the Objects field that fills each.
WORKSPACE_PARAMS = {
    "workspace_id": "workspace_id",
    "document_id": "document_id",
    "example_id": "example_id",
    "dataset_id": "dataset_id",
    "batch_id": "batch_id",
    "user_id": "member_user_id",
    "invite_id": "invite_id",
    "run_id": "run_id",
    "notice_id": "notice_id",
    "adapter_id": "adapter_id",
    "comparison_id": "comparison_id",
    "item_id": "item_id",
    "generation_id": "generation_id",
    "offer_id": "offer_id",
}
# Routes whose own path names something of the caller's (an API token, an offer made to them), or a
# one-time link. An offer under /workspaces/{workspace_id}/ is the workspace's object instead.
OWN_PARAMS = {"token_id", "offer_id"}
LINK_PARAMS = {"token"}


@dataclass(frozen=True)
class RouteCase:
    """One method of one route of the app."""

    method: str
    path: str

    @property
    def params(self) -> list[str]:
        """The path parameters, in order."""
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{") and part.endswith("}")]

    @property
    def scope(self) -> str:
        """What the path names: "workspace" objects, the caller's "own" token, a "link", or "none"."""
        params = set(self.params)
        if "workspace_id" in params:
            return "workspace"
        if params & OWN_PARAMS:
            return "own"
        if params & LINK_PARAMS:
            return "link"
        return "workspace" if params else "none"

    @property
    def is_api(self) -> bool:
        """Whether the route belongs to the JSON API (401 JSON rather than a redirect to sign-in)."""
        return self.path.startswith(("/api/", "/v1/"))

    @property
    def changes_state(self) -> bool:
        """Whether the method may change something (and so needs a CSRF token)."""
        return self.method not in SAFE_METHODS


def app_routes(app: FastAPI) -> list[RouteCase]:
    """Every method of every route of `app` (static files are a mount, not a route; HEAD is GET's)."""
    cases = []
    for context in iter_route_contexts(app.routes):
        methods = context.methods or set()
        for method in sorted(methods - {"HEAD"}):
            cases.append(RouteCase(method, context.path))
    return cases


def missing_expectations(cases: list[RouteCase]) -> list[str]:
    """ "add <METHOD PATH> to EXPECTATIONS" for each route the table does not know."""
    return [
        f"add {c.method} {c.path} to EXPECTATIONS" for c in cases if (c.method, c.path) not in EXPECTATIONS
    ]


def unknown_params(cases: list[RouteCase]) -> list[str]:
    """Path parameters the tests cannot fill (a new kind of object needs a filler here)."""
    known = set(WORKSPACE_PARAMS) | OWN_PARAMS | LINK_PARAMS
    return [f"{c.method} {c.path}: no filler for {{{p}}}" for c in cases for p in c.params if p not in known]


def fill_path(case: RouteCase, objects: Objects | None, token_id: int | None, link: str | None) -> str:
    """The route's path with its parameters replaced by the given objects' ids."""
    path = case.path
    for name in case.params:
        if name in OWN_PARAMS and case.scope == "own":
            value: Any = token_id
        elif name in WORKSPACE_PARAMS:
            value = getattr(objects, WORKSPACE_PARAMS[name])
        else:
            value = link
        path = path.replace("{" + name + "}", str(value))
    return path


def role_allows(actor_role: str, needed: str) -> bool:
    """Whether a member with `actor_role` may call a route that needs `needed`."""
    if needed == PUBLIC:
        return True
    return ACTOR_RANK[actor_role] >= RANK[needed]


# ---- objects ---------------------------------------------------------------------------------------


def make_objects(session: Session, workspace_id: int, marker: str) -> Objects:
    """A fresh set of objects in the workspace, each carrying `marker` in its text (committed).

    A table document (columns to map, its original stored), three examples (the first from the
    document; the other two exact copies, so the health check offers a fix), a dataset with a
    snapshot, a finished upload batch, a member with a password, and a pending invite.
    """
    from app.auth.links import create_invite
    from app.ingest.store import store_bytes
    from app.ingest.types import ExampleDraft
    from app.services.datasets import freeze_snapshot
    from app.services.examples import new_example
    from app.settings import get_settings
    from tests.auth_helpers import make_user
    from tests.compare_helpers import Pair, add_comparison
    from tests.examples_data import ESTIMATE

    n = unique()
    workspace = session.get(Workspace, workspace_id)
    data = f"Question,Answer\nWhat is {marker} {n}?,It is the {marker} answer.\n".encode()
    stored = store_bytes(get_settings().originals_dir, data)
    document = Document(
        workspace_id=workspace_id,
        sha256=stored.sha256,
        filename=f"questions-{marker}-{n}.csv",
        size_bytes=stored.size_bytes,
        format="csv",
        status="needs_mapping",
        columns=["Question", "Answer"],
    )
    session.add(document)
    session.flush()
    drafts = [
        ExampleDraft(
            instruction=f"Reply to the {marker} client {n}",
            output=f"Dear client, the {marker} shipment {n} left today and arrives on Friday.",
            tags=[f"tag-{marker}"],
            source_ref=f"row 2 of {marker}",
        ),
        *[
            ExampleDraft(
                instruction=f"Summarise the {marker} meeting {n}",
                output=f"The {marker} meeting {n} agreed the budget and a follow-up next week.",
            )
            for _ in range(2)
        ],
    ]
    examples = [
        new_example(workspace_id, draft, document.id if i == 0 else None, ESTIMATE)
        for i, draft in enumerate(drafts)
    ]
    session.add_all(examples)
    dataset = Dataset(workspace_id=workspace_id, name=f"Dataset {marker} {n}", description=f"About {marker}")
    session.add(dataset)
    session.flush()
    session.add_all([DatasetExample(dataset_id=dataset.id, example_id=e.id) for e in examples[:2]])
    batch = ImportBatch(workspace_id=workspace_id, source="upload", state="done", total_files=1, done_files=1)
    batch.items.append(
        ImportItem(
            position=0,
            filename=f"note-{marker}-{n}.txt",
            sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            document_id=document.id,
            status="parsed",
            message=f"1 example from note-{marker}-{n}.txt",
            example_count=1,
        )
    )
    session.add(batch)
    session.commit()
    snapshot, _ = freeze_snapshot(session, workspace_id, dataset)
    member = make_user(session, "reviewer", workspace_id, email=f"member-{marker}-{n}@example.com")
    _, invited = create_invite(
        session, f"invitee-{marker}-{n}@example.com", f"Invitee {marker}", workspace_id, "reviewer", None
    )
    session.commit()
    invite_id = session.scalars(select(OneTimeLink.id).where(OneTimeLink.user_id == invited.id)).one()
    outsider = make_user(session, None, email=f"offered-{marker}-{n}@example.com")
    offer = MembershipOffer(user_id=outsider.id, workspace_id=workspace_id, role="reviewer")
    session.add(offer)
    run = Run(
        workspace_id=workspace_id,
        dataset_id=dataset.id,
        snapshot_id=snapshot.id,
        snapshot_sha256=snapshot.sha256,
        name=f"Run {marker} {n}",
        hyperparameters={},
        loss_history=[],
        heldout_history=[],
    )
    session.add(run)
    session.flush()
    notice = Notice(workspace_id=workspace_id, message=f"Run {marker} {n} finished.", run_id=run.id)
    session.add(notice)
    pair = Pair(f"Dear {marker} client {n}.", f"Hello {marker} customer.", f"Dear {marker} client, done.")
    comparison = add_comparison(session, run, [pair], [examples[0].id], name=f"Adapter {marker} {n}")
    generation = make_draft(session, comparison.adapter_id, f"{marker} {n}")
    return Objects(
        workspace_id=workspace_id,
        workspace_name=workspace.name,
        marker=marker,
        document_id=document.id,
        example_id=examples[0].id,
        duplicate_ids=[e.id for e in examples[1:]],
        dataset_id=dataset.id,
        snapshot_id=snapshot.id,
        batch_id=batch.id,
        member_user_id=member.id,
        invite_id=invite_id,
        run_id=run.id,
        notice_id=notice.id,
        adapter_id=comparison.adapter_id,
        comparison_id=comparison.id,
        item_id=comparison.items[0].id,
        generation_id=generation.id,
        offer_id=offer.id,
    )


def make_draft(session: Session, adapter_id: int, text: str) -> Generation:
    """Files for the adapter in the artifact store and a finished draft it wrote, with `text` (committed)."""
    from app.models import Adapter
    from app.settings import get_settings

    adapter = session.get(Adapter, adapter_id)
    folder = get_settings().data_dir / adapter.path
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_model.safetensors", "adapter_config.json", "README.md"):
        (folder / name).write_text(f"{name} of the adapter {text}")
    generation = Generation(
        workspace_id=adapter.workspace_id, adapter_id=adapter.id, purpose="draft", state="succeeded",
        messages=[{"role": "user", "content": f"Write to the {text} client"}],
        output=f"Dear {text} client, your order ships on Monday.", stop_reason="eos", completion_tokens=9,
    )  # fmt: skip
    session.add(generation)
    session.commit()
    return generation


def _model_id(call: Call) -> int:
    """The bundled default model's id (the catalog is seeded when missing)."""
    from app.services.model_catalog import default_model

    model = default_model(call.session, call.actor_workspace_id or 0)
    call.session.commit()
    return model.id


def own_object_for(session: Session, case: RouteCase, user_id: int) -> int:
    """A fresh object of the user's that the route's path names: a live API token, or an offer of
    membership of a new workspace; its id."""
    from app.models import MembershipOffer, User
    from tests.auth_helpers import api_token

    if "offer_id" in case.params:
        workspace = Workspace(name=f"Offering team {unique()}", slug=f"offering-{unique()}")
        session.add(workspace)
        session.flush()
        offer = MembershipOffer(user_id=user_id, workspace_id=workspace.id, role="reviewer")
        session.add(offer)
        session.commit()
        return offer.id
    _, row = api_token(session, session.get(User, user_id), "matrix")
    session.commit()
    return row.id


def one_time_link(session: Session, kind: str, workspace_id: int) -> str:
    """A fresh, usable invite (into the workspace) or password reset link; its raw token."""
    from app.auth.links import create_invite, create_reset
    from tests.auth_helpers import make_user

    if kind == "invite":
        raw, _ = create_invite(session, _new_email("linked"), "", workspace_id, "reviewer", None)
    else:
        raw = create_reset(session, make_user(session, "reviewer", workspace_id), None)
    session.commit()
    return raw


def link_kind(case: RouteCase) -> str:
    """Which kind of one-time link a /invite/... or /reset/... route takes."""
    return "invite" if case.path.startswith("/invite/") else "reset"


def request_kwargs(case: RouteCase, call: Call) -> dict[str, Any]:
    """The request's keyword arguments (data, json, files, params) for the route; none for most GETs."""
    body = EXPECTATIONS[(case.method, case.path)].body
    return body(call) if body else {}


@pytest.fixture
def no_leftover_messages(env: Any) -> Iterator[None]:
    """Uploads in these sweeps queue batches no worker reads: drop them, so no later worker test gets them."""
    yield
    from tests.test_upload_service import purge_ingest_queue

    purge_ingest_queue()
