"""The examples table: search, filters, sort, pagination, partial vs page, empty states and escaping."""

import re

from app.models import ExampleFlag
from tests.examples_data import add_document, add_examples, bulk_examples

HTMX = {"HX-Request": "true", "HX-Target": "examples-results"}


def row_ids(html: str) -> list[int]:
    """Example ids of the rows in a rendered table, in order."""
    return [int(i) for i in re.findall(r'<tr id="example-(\d+)"', html)]


def test_empty_state_teaches_where_examples_come_from(client):
    response = client.get("/examples")
    assert response.status_code == 200
    assert "Upload emails or reports, or try the sample data" in response.text
    assert 'href="/upload"' in response.text


def test_search_is_case_insensitive_over_all_fields_and_escapes_wildcards(client, session, workspace_id):
    ids = add_examples(
        session,
        workspace_id,
        [
            {"instruction": "Write the QUARTERLY report"},
            {"input": "notes about quarterly numbers"},
            {"output": "The Quarterly figures grew by 10 percent this year."},
            {"instruction": "Unrelated", "output": "Growth was 100% in spring, a record for the team."},
            {"instruction": "Unrelated too", "output": "Nothing to see here at all, move along please."},
        ],
    )
    found = client.get("/examples", params={"q": "quarterly"}, headers=HTMX)
    assert sorted(row_ids(found.text)) == ids[:3]
    # "%" must match itself, not everything.
    percent = client.get("/examples", params={"q": "100%"}, headers=HTMX)
    assert row_ids(percent.text) == [ids[3]]
    none = client.get("/examples", params={"q": "zebra"}, headers=HTMX)
    assert "No example matches these filters" in none.text


def test_filters_combine(client, session, workspace_id):
    doc = add_document(session, workspace_id, "board-minutes.docx")
    ids = add_examples(
        session,
        workspace_id,
        [
            {"kind": "classify", "output": "urgent", "tags": ["support"], "document_id": doc},
            {"kind": "classify", "output": "routine", "included": False},
            {"kind": "draft", "tags": ["support"], "split": "heldout"},
            {"kind": "summarise", "document_id": doc},
        ],
    )
    session.add(ExampleFlag(example_id=ids[3], code="pii", detail="1 email address"))
    session.commit()

    def ids_for(**params):
        return sorted(row_ids(client.get("/examples", params=params, headers=HTMX).text))

    assert ids_for(kind="classify") == ids[:2]
    assert ids_for(tag="support") == [ids[0], ids[2]]
    assert ids_for(document=doc) == [ids[0], ids[3]]
    assert ids_for(split="heldout") == [ids[2]]
    assert ids_for(included="no") == [ids[1]]
    assert ids_for(included="yes", kind="classify") == [ids[0]]
    assert ids_for(flag="pii") == [ids[3]]
    assert ids_for(flag="any") == [ids[3]]
    assert ids_for(flag="none") == ids[:3]
    # Unknown values are ignored rather than failing the page.
    assert ids_for(kind="poetry", split="nowhere") == ids


def test_sorts(client, session, workspace_id):
    ids = add_examples(
        session,
        workspace_id,
        [
            {"output": "Short but fine reply text here."},
            {"output": "A much longer reply " * 20},
            {"output": "Medium length reply text that says a bit more than the first."},
        ],
    )
    session.add(ExampleFlag(example_id=ids[0], code="short_output"))
    session.add(ExampleFlag(example_id=ids[0], code="pii"))
    session.add(ExampleFlag(example_id=ids[2], code="pii"))
    session.commit()

    def order(sort):
        return row_ids(client.get("/examples", params={"sort": sort}, headers=HTMX).text)

    assert order("newest") == [ids[2], ids[1], ids[0]]
    assert order("oldest") == ids
    assert order("longest") == [ids[1], ids[2], ids[0]]
    assert order("shortest") == [ids[0], ids[2], ids[1]]
    assert order("flagged") == [ids[0], ids[2], ids[1]]


def test_pagination_counts_and_last_page(client, session, workspace_id):
    ids = bulk_examples(session, workspace_id, 120)
    first = client.get("/examples", params={"sort": "oldest"}, headers=HTMX)
    assert "<strong>1–50</strong> of <strong>120</strong>" in first.text
    assert row_ids(first.text) == ids[:50]
    last = client.get("/examples", params={"sort": "oldest", "page": 3}, headers=HTMX)
    assert "<strong>101–120</strong> of <strong>120</strong>" in last.text
    assert row_ids(last.text) == ids[100:]
    # A page past the end shows the last page instead of nothing.
    beyond = client.get("/examples", params={"sort": "oldest", "page": 99}, headers=HTMX)
    assert row_ids(beyond.text) == ids[100:]
    assert 'aria-current="page">3<' in beyond.text
    # Page links keep the filter, so a shared URL shows the same rows.
    assert "sort=oldest&amp;page=2" in last.text
    assert "Select all 120 matching" in first.text


def test_htmx_gets_the_partial_and_a_plain_request_the_page(client, session, workspace_id):
    add_examples(session, workspace_id, [{}])
    page = client.get("/examples", params={"kind": "draft"})
    assert "<html" in page.text and 'id="examples-filters"' in page.text
    assert 'option value="draft" selected' in page.text
    partial = client.get("/examples", params={"kind": "draft"}, headers=HTMX)
    assert "<html" not in partial.text and 'id="bulk-form"' in partial.text
    restore = client.get("/examples", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_rows_show_source_tags_flags_and_split(client, session, workspace_id):
    doc = add_document(session, workspace_id, "client-letters.eml")
    [example_id] = add_examples(
        session, workspace_id, [{"document_id": doc, "tags": ["letters"], "split": "heldout"}]
    )
    session.add(ExampleFlag(example_id=example_id, code="near_duplicate", detail="Nearly the same as #1"))
    session.commit()
    html = client.get("/examples").text
    assert "client-letters.eml" in html
    assert ">letters<" in html
    assert "Near duplicate" in html
    assert "Held-out" in html
    assert f'hx-get="/examples/{example_id}/edit"' in html


XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


def test_user_text_is_escaped_in_page_and_partials(client, session, workspace_id):
    doc = add_document(session, workspace_id, '"><img src=x onerror=alert(1)>.txt')
    [example_id] = add_examples(
        session,
        workspace_id,
        [
            {
                "instruction": XSS[0],
                "input": XSS[1],
                "output": XSS[1] + " " + XSS[0],
                "tags": [XSS[0]],
                "document_id": doc,
            }
        ],
    )
    pages = [
        client.get("/examples").text,
        client.get("/examples", headers=HTMX).text,
        client.get(f"/examples/{example_id}/row").text,
        client.get(f"/examples/{example_id}/edit").text,
        client.get("/examples", params={"q": XSS[0]}).text,
        client.get("/examples/health").text,
    ]
    for html in pages:
        assert "<script>alert(1)</script>" not in html
        assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[3]
