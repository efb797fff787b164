"""Every route of the app × {anonymous, reviewer, editor and admin of workspace A, admin of workspace B} ×
objects of A and of B, each with the answer it must get.

Built from the application's route table: a route without an entry in tests/route_table.py's EXPECTATIONS
fails. Anonymous callers are sent to sign in (401 from the API); a role below the route's is refused
(403); another workspace's object answers 404, like a missing one; everything allowed gets neither 401,
403 nor 404. No answer to anyone shows another workspace's data.
"""

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.route_table import (
    EXPECTATIONS,
    PUBLIC,
    Call,
    Objects,
    RouteCase,
    app_routes,
    fill_path,
    link_kind,
    make_objects,
    missing_expectations,
    no_leftover_messages,  # noqa: F401 (a fixture)
    one_time_link,
    own_object_for,
    request_kwargs,
    role_allows,
    unknown_params,
)

SLUGS = {"A": "alpha-zq7alpha", "B": "bravo-zq7bravo"}
# Every object of a workspace carries its marker (and the workspace's name holds it too).
MARKERS = {"A": "zq7alpha", "B": "zq7bravo"}
# Lists where a member must find their own workspace's objects (and, by the leak check, no others).
OWN_LISTS = {
    ("GET", "/examples"),
    ("GET", "/datasets"),
    ("GET", "/upload"),
    ("GET", "/api/examples"),
    ("GET", "/api/datasets"),
    ("GET", "/api/uploads"),
    ("GET", "/api/documents"),
}


def test_every_route_has_an_expectation_and_every_entry_a_route():
    from app.main import create_app

    cases = app_routes(create_app())
    assert missing_expectations(cases) == []
    assert unknown_params(cases) == []
    stale = sorted(set(EXPECTATIONS) - {(c.method, c.path) for c in cases})
    assert stale == [], f"EXPECTATIONS names routes the app does not have: {stale}"


@dataclass
class Actor:
    """One caller of the matrix: a TestClient, their role and workspace ("A"/"B"), or anonymous."""

    name: str
    client: Any
    role: str | None = None
    ws: str | None = None

    @property
    def anonymous(self) -> bool:
        """Whether the caller is not signed in."""
        return self.role is None


@dataclass
class Outcome:
    """The answer a request must get: "allowed", "public", "login" (401 / to sign-in), or one of `codes`.

    "public" is "allowed" for the sign-in pages, which may themselves send a caller to /login (sign-out,
    a finished first-run setup).
    """

    kind: str
    codes: frozenset[int] = frozenset()


@dataclass
class Matrix:
    """The two workspaces' objects (renewed after a request changed them) and the cases run."""

    session: Session
    ws_ids: dict[str, int]
    objects: dict[str, Objects] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=lambda: {"A", "B"})
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def objects_of(self, ws: str) -> Objects:
        """The workspace's current objects, made afresh when a request may have changed them."""
        if ws in self.dirty:
            self.objects[ws] = make_objects(self.session, self.ws_ids[ws], MARKERS[ws])
            self.dirty.discard(ws)
        return self.objects[ws]


def targets(case: RouteCase, actor: Actor) -> list[str | None]:
    """What the route's path is aimed at, for this caller."""
    if case.scope == "workspace":
        return ["A", "B"]
    if case.scope == "own":
        return ["other"] if actor.anonymous else ["own", "other"]
    return ["link"] if case.scope == "link" else [None]


def expected(case: RouteCase, actor: Actor, target: str | None) -> Outcome:
    """The answer `actor` must get from the route aimed at `target`."""
    expect = EXPECTATIONS[(case.method, case.path)]
    if expect.role == PUBLIC:
        return Outcome("public")
    if actor.anonymous:
        return Outcome("login")
    foreign = (case.scope == "workspace" and target != actor.ws) or target == "other"
    if not role_allows(actor.role, expect.role):
        # Refused for the role alone, or missing for another team's object: either tells nothing.
        return Outcome("codes", frozenset({403, 404}) if foreign else expect.below)
    return Outcome("codes", frozenset({404})) if foreign else Outcome("allowed")


def check(case: RouteCase, outcome: Outcome, response) -> str | None:
    """What is wrong with `response` for the expected outcome, or None."""
    status = response.status_code
    location = response.headers.get("location", "")
    if outcome.kind == "login":
        if case.is_api:
            return None if status == 401 else f"expected 401, got {status}"
        ok = status == 303 and location.startswith("/login")
        return None if ok else f"expected 303 to /login, got {status} {location}"
    if outcome.kind == "codes":
        return None if status in outcome.codes else f"expected {sorted(outcome.codes)}, got {status}"
    to_login = location.startswith("/login") and outcome.kind != "public"
    if status in (401, 403, 404) or status >= 500 or to_login:
        return f"expected to be allowed, got {status} {location} {response.text[:200]!r}"
    return None


def send(matrix: Matrix, actors: dict[str, Actor], case: RouteCase, actor: Actor, target: str | None):
    """Fill the path for `target`, send the minimal request as `actor`, and return the response."""
    own_ws = actor.ws or "A"
    objects = None
    token_id = link = None
    if case.scope == "workspace":
        objects = matrix.objects_of(target)
    elif case.scope == "own":
        owner = actor if target == "own" else actors["admin B" if own_ws == "A" else "admin A"]
        token_id = own_object_for(matrix.session, case, owner.client.user_id)
    elif case.scope == "link":
        link = one_time_link(matrix.session, link_kind(case), matrix.ws_ids[own_ws])
    if objects is None:
        objects = matrix.objects_of(own_ws)
    call = Call(objects, matrix.ws_ids.get(actor.ws or ""), matrix.session)
    path = fill_path(case, objects, token_id, link)
    kwargs = request_kwargs(case, call)
    matrix.requests += 1
    return actor.client.request(case.method, path, follow_redirects=False, **kwargs)


def leaks(actor: Actor, case: RouteCase, response) -> list[str]:
    """The markers of workspaces the caller does not belong to that the answer shows."""
    text = response.text.lower()
    if actor.anonymous:
        hidden = ["B"] if case.scope == "link" else [] if case.path == "/login" else ["A", "B"]
    else:
        hidden = [ws for ws in MARKERS if ws != actor.ws]
    return [MARKERS[ws] for ws in hidden if MARKERS[ws] in text]


def run_case(matrix: Matrix, actors: dict[str, Actor], case: RouteCase, actor: Actor, target) -> None:
    """One cell of the matrix: send, check the status, the leaks and (for lists) the caller's own data."""
    outcome = expected(case, actor, target)
    response = send(matrix, actors, case, actor, target)
    label = f"{case.method} {case.path} as {actor.name} on {target or '-'}"
    problem = check(case, outcome, response)
    if problem:
        matrix.failures.append(f"{label}: {problem}")
    shown = leaks(actor, case, response)
    if shown:
        matrix.failures.append(f"{label}: shows another workspace's data ({', '.join(shown)})")
    allowed = outcome.kind in ("allowed", "public")
    own_list = (case.method, case.path) in OWN_LISTS
    if outcome.kind == "allowed" and own_list and MARKERS[actor.ws] not in response.text.lower():
        matrix.failures.append(f"{label}: does not list the caller's own objects")
    if case.changes_state and response.status_code < 400:
        # The request may have changed or deleted these objects: the next request gets fresh ones.
        matrix.dirty.add(target if target in MARKERS else actor.ws or "A")
    if allowed and EXPECTATIONS[(case.method, case.path)].resign and not actor.anonymous:
        from tests.auth_helpers import sign_in

        sign_in(actor.client, actor.role, SLUGS[actor.ws], email=actor.client.user_email)


@pytest.mark.usefixtures("no_leftover_messages")
def test_route_matrix(client_as, anon_client, session, db_url):
    from app.main import create_app

    started = time.monotonic()
    actors = {
        "anonymous": Actor("anonymous", anon_client),
        "reviewer A": Actor("reviewer A", client_as("reviewer", SLUGS["A"]), "reviewer", "A"),
        "editor A": Actor("editor A", client_as("editor", SLUGS["A"]), "editor", "A"),
        "admin A": Actor("admin A", client_as("admin", SLUGS["A"]), "admin", "A"),
        "admin B": Actor("admin B", client_as("admin", SLUGS["B"]), "admin", "B"),
    }
    # Anonymous forms carry the pre-session CSRF token, so what is tested is sign-in, not CSRF.
    anon_client.get("/login")
    anon_client.headers["X-CSRF-Token"] = anon_client.cookies.get("lastmile_csrf")
    matrix = Matrix(session, {ws: actors[f"admin {ws}"].client.workspace_id for ws in SLUGS})

    cases = app_routes(create_app())
    assert missing_expectations(cases) == []
    cells = 0
    for case in cases:
        for actor in actors.values():
            for target in targets(case, actor):
                run_case(matrix, actors, case, actor, target)
                cells += 1
    elapsed = time.monotonic() - started
    print(
        f"\nroute matrix ({db_url.split(':', 1)[0]}): {len(cases)} routes × {len(actors)} callers × "
        f"their targets = {cells} requests in {elapsed:.1f} s"
    )
    assert not matrix.failures, "\n".join(matrix.failures)
    assert cells >= len(cases) * len(actors)
