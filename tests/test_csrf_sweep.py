"""CSRF on every state-changing route of the app, found in its route table: a signed-in admin sending no
token, a wrong token, or the right token from another site is refused (403) and nothing changes; the
right token from Lastmile's own origin passes."""

import pytest
from sqlalchemy import text

from tests.route_table import (
    EXPECTATIONS,
    Call,
    app_routes,
    fill_path,
    link_kind,
    make_objects,
    missing_expectations,
    no_leftover_messages,  # noqa: F401 (a fixture)
    one_time_link,
    own_object_for,
    request_kwargs,
)

SLUG = "alpha-zq7alpha"
OWN_ORIGIN = "http://testserver"
EVIL = "https://evil.example"
# Rows a state-changing request could add, remove or use up; a refused request must leave them all.
COUNTED = {
    "workspaces": "",
    "memberships": "",
    "documents": "",
    "import_batches": "",
    "examples": "",
    "example_tags": "",
    "datasets": "",
    "dataset_examples": "",
    "dataset_snapshots": "",
    "audit_events": "",
    "login_attempts": "",
    "api_tokens": "WHERE revoked_at IS NULL",
    "auth_sessions": "WHERE revoked_at IS NULL",
    "one_time_links": "WHERE used_at IS NULL",
}


def row_counts(session) -> dict[str, int]:
    """How many (live) rows each counted table holds."""
    session.expire_all()
    return {
        table: session.scalar(text(f"SELECT count(*) FROM {table} {where}"))
        for table, where in COUNTED.items()
    }


def refusals(kwargs: dict, token: str, page: bool) -> list[tuple[str, dict, dict]]:
    """(what, headers, request kwargs) for every way of sending the request that must be refused."""
    variants = [
        ("no token", {}, kwargs),
        ("a wrong token", {"X-CSRF-Token": "not-the-token-of-this-session"}, kwargs),
        ("the right token from another site", {"X-CSRF-Token": token, "Origin": EVIL}, kwargs),
        (
            "the right token with another site's Referer",
            {"X-CSRF-Token": token, "Referer": f"{EVIL}/x"},
            kwargs,
        ),
        (
            "the right token with Origin null (a sandboxed page)",
            {"X-CSRF-Token": token, "Origin": "null"},
            kwargs,
        ),
    ]
    if "data" in kwargs:
        # A plain form carries the token as a field: a wrong one is refused like a wrong header.
        wrong_field = {**kwargs, "data": {**kwargs["data"], "csrf_token": "not-the-token"}}
        variants.append(("a wrong token in the form field", {}, wrong_field))
    if page:
        variants.append(("no token, from htmx", {"HX-Request": "true"}, kwargs))
    return variants


@pytest.mark.usefixtures("no_leftover_messages")
def test_every_state_changing_route_needs_the_token_and_our_origin(client_as, session, db_url):
    from app.main import create_app
    from tests.auth_helpers import sign_in

    admin = client_as("admin", SLUG)
    token = admin.headers.pop("X-CSRF-Token")
    objects = make_objects(session, admin.workspace_id, "zq7alpha")
    cases = [c for c in app_routes(create_app()) if c.changes_state]
    assert missing_expectations(cases) == []
    assert len(cases) > 40  # the sweep really covers the app's state-changing routes

    failures: list[str] = []
    sent = 0
    for case in cases:
        token_id = own_object_for(session, case, admin.user_id) if case.scope == "own" else None
        link = one_time_link(session, link_kind(case), admin.workspace_id) if case.scope == "link" else None
        path = fill_path(case, objects, token_id, link)
        kwargs = request_kwargs(case, Call(objects, admin.workspace_id, session))
        label = f"{case.method} {case.path}"
        before = row_counts(session)
        for what, headers, variant in refusals(kwargs, token, page=not case.is_api):
            response = admin.request(case.method, path, headers=headers, follow_redirects=False, **variant)
            sent += 1
            if response.status_code != 403:
                failures.append(f"{label} with {what}: expected 403, got {response.status_code}")
        after = row_counts(session)
        changed = {table: (n, after[table]) for table, n in before.items() if after[table] != n}
        if changed:
            failures.append(f"{label}: refused requests changed rows {changed}")
        good = {"X-CSRF-Token": token, "Origin": OWN_ORIGIN}
        response = admin.request(case.method, path, headers=good, follow_redirects=False, **kwargs)
        sent += 1
        if response.status_code in (401, 403, 404):
            failures.append(
                f"{label} with the right token: got {response.status_code} {response.text[:200]!r}"
            )
        if response.status_code < 400:
            objects = make_objects(session, admin.workspace_id, "zq7alpha")
        if EXPECTATIONS[(case.method, case.path)].resign:
            sign_in(admin, "admin", SLUG, email=admin.user_email)
            token = admin.headers.pop("X-CSRF-Token")
    print(f"\nCSRF sweep ({db_url.split(':', 1)[0]}): {len(cases)} state-changing routes, {sent} requests")
    assert not failures, "\n".join(failures)
