"""Generations have limits: queued ones per person and per workspace, and the memory-fit check runs get."""

from sqlalchemy import func, select

from app.review_models import Generation

BRIEF = {"model": "smollm2-135m-instruct", "brief": "A short thank-you note to a client."}


def _queued(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Generation))


def test_queued_generations_are_limited_per_person_and_per_workspace(client_as, session, monkeypatch):
    from app.services.model_catalog import ensure_catalog
    from app.settings import get_settings

    ensure_catalog(session)
    session.commit()
    monkeypatch.setenv("LASTMILE_GENERATION_MAX_QUEUED_PER_USER", "3")
    monkeypatch.setenv("LASTMILE_GENERATION_MAX_QUEUED_PER_WORKSPACE", "5")
    get_settings.cache_clear()
    ann, bob = client_as("editor"), client_as("editor")
    for _ in range(3):
        assert ann.post("/api/generations", json=BRIEF).status_code == 201
    refused = ann.post("/api/generations", json=BRIEF)
    assert refused.status_code == 429 and "the limit is 3" in refused.json()["detail"]
    assert _queued(session) == 3
    # Another person still may, until the workspace's own limit.
    assert [bob.post("/api/generations", json=BRIEF).status_code for _ in range(3)] == [201, 201, 429]
    assert "This workspace has 5" in bob.post("/api/generations", json=BRIEF).json()["detail"]
    assert _queued(session) == 5
    # The OpenAI endpoint says so in OpenAI's shape, at once (it does not wait for a worker).
    chat = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi"}]}
    answer = ann.post("/v1/chat/completions", json=chat)
    assert answer.status_code == 429 and answer.json()["error"]["code"] == "rate_limit_exceeded"
    # The draft page shows the limit in its form.
    page = ann.post("/drafts", data={"model": "smollm2-135m-instruct", "brief": "Hi", "length": "short"})
    assert "the limit is 3" in page.text
    assert _queued(session) == 5


def test_a_model_no_worker_can_hold_is_refused_before_it_queues(client, session):
    from app.models import BaseModel, WorkerCapacity
    from app.services.model_catalog import ensure_catalog

    ensure_catalog(session)
    big = session.scalars(select(BaseModel).where(BaseModel.key == "qwen2.5-7b-instruct")).one()
    session.add(WorkerCapacity(worker="gpu@small", device="cuda", memory_bytes=8 * 1024**3))
    session.commit()
    response = client.post("/api/generations", json={**BRIEF, "model": "qwen2.5-7b-instruct"})
    assert response.status_code == 422
    assert f"{big.name} needs about" in response.text and "the worker has 8.0 GB" in response.text
    assert _queued(session) == 0
