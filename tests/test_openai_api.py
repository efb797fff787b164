"""The OpenAI-compatible endpoints. Through a live `lastmile run` (web + real worker) with the official
`openai` client: models are listed, an adapter and a base model answer chat completions, errors come in
OpenAI's shape. On the in-process app (no worker): error shapes, and a request waiting for a worker does
not hold up other requests, then gives up with a 504 and leaves the generation failed."""

import threading
import time

import pytest
from sqlalchemy import select

from app.review_models import Generation
from tests.adapter_helpers import make_adapter, tiny_adapter
from tests.test_runs_pages import no_queued_runs

__all__ = ["no_queued_runs"]


def _token(session, role: str = "reviewer", workspace=None) -> str:
    """A fresh API token of a new user with `role`."""
    from tests.auth_helpers import api_token, make_user

    raw, _ = api_token(session, make_user(session, role, workspace), "openai")
    session.commit()
    return raw


def test_models_and_error_shapes_without_a_worker(anon_client, session, workspace_id):
    adapter = make_adapter(session, workspace_id, "Replies on SmolLM2")
    auth = {"Authorization": f"Bearer {_token(session)}"}
    models = anon_client.get("/v1/models", headers=auth).json()
    assert models["object"] == "list"
    by_id = {m["id"]: m for m in models["data"]}
    assert by_id[f"adapter-{adapter.id}"]["name"] == "Replies on SmolLM2"
    assert by_id[f"adapter-{adapter.id}"]["base_model"] == "smollm2-135m-instruct"
    assert by_id["smollm2-135m-instruct"]["object"] == "model"

    def error(response, status: int) -> dict:
        assert response.status_code == status, response.text
        return response.json()["error"]

    no_token = error(anon_client.get("/v1/models"), 401)
    assert no_token["code"] == "invalid_api_key" and "Sign in first" in no_token["message"]
    bad_token = anon_client.get("/v1/models", headers={"Authorization": "Bearer lm_wrong"})
    assert error(bad_token, 401)["type"] == "invalid_request_error"
    chat = {"model": "adapter-999999", "messages": [{"role": "user", "content": "Hi"}]}
    unknown = error(anon_client.post("/v1/chat/completions", json=chat, headers=auth), 404)
    assert (unknown["code"], unknown["param"]) == ("model_not_found", "model")
    assert "GET /v1/models lists" in unknown["message"]
    streamed = {**chat, "model": f"adapter-{adapter.id}", "stream": True}
    stream = error(anon_client.post("/v1/chat/completions", json=streamed, headers=auth), 400)
    assert (stream["param"], stream["code"]) == ("stream", "unsupported_parameter")
    no_messages = {"model": f"adapter-{adapter.id}"}
    assert (
        error(anon_client.post("/v1/chat/completions", json=no_messages, headers=auth), 400)["param"]
        == "messages"
    )
    too_long = {**chat, "model": f"adapter-{adapter.id}", "max_tokens": 99_999}
    assert (
        error(anon_client.post("/v1/chat/completions", json=too_long, headers=auth), 400)["param"]
        == "max_tokens"
    )
    last_not_user = {
        **chat,
        "model": f"adapter-{adapter.id}",
        "messages": [{"role": "assistant", "content": "x"}],
    }
    assert (
        "must be the brief"
        in error(anon_client.post("/v1/chat/completions", json=last_not_user, headers=auth), 400)["message"]
    )
    # Another workspace's adapter is as unknown as a missing one.
    outsider = {"Authorization": f"Bearer {_token(session, 'admin', 'team-b')}"}
    assert f"adapter-{adapter.id}" not in str(anon_client.get("/v1/models", headers=outsider).json())
    other = {**chat, "model": f"adapter-{adapter.id}"}
    assert (
        error(anon_client.post("/v1/chat/completions", json=other, headers=outsider), 404)["code"]
        == "model_not_found"
    )
    assert session.scalars(select(Generation)).all() == []


def test_a_waiting_completion_holds_up_nothing_and_gives_up_with_a_504(
    anon_client, session, workspace_id, monkeypatch, no_queued_runs
):
    from app.settings import get_settings

    monkeypatch.setenv("LASTMILE_GENERATION_WAIT_SECONDS", "3")
    get_settings.cache_clear()
    adapter = make_adapter(session, workspace_id)
    auth = {"Authorization": f"Bearer {_token(session)}"}
    # Newer clients send a "developer" role and text parts: stored as the chat template takes them.
    parts = [{"type": "text", "text": "Tell "}, {"type": "text", "text": "Anna."}]
    messages = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": parts}]
    chat = {"model": f"adapter-{adapter.id}", "messages": messages, "max_tokens": 40, "seed": 7}
    answers: list = []
    waiting = threading.Thread(
        target=lambda: answers.append(anon_client.post("/v1/chat/completions", json=chat, headers=auth))
    )
    started = time.monotonic()
    waiting.start()
    time.sleep(0.8)
    health = anon_client.get("/healthz")
    answered_in = time.monotonic() - started
    assert health.status_code == 200 and answered_in < 2.5 and waiting.is_alive()
    waiting.join(timeout=30)
    response = answers[0]
    assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started >= 3
    generation = session.scalars(select(Generation)).one()
    session.refresh(generation)
    assert (generation.purpose, generation.state) == ("api", "failed")
    assert generation.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tell Anna."},
    ]
    assert (generation.max_new_tokens, generation.seed, generation.temperature) == (40, 7, 0.0)
    assert "No worker answered within 3 seconds" in generation.error


@pytest.mark.worker
def test_the_official_openai_client_drafts_through_a_real_worker(tmp_path, monkeypatch):
    import openai

    from app.db import get_sessionmaker
    from tests.conftest import clear_caches
    from tests.live_server import lastmile_run
    from tests.run_helpers import register_tiny

    data = tmp_path / "data"
    with lastmile_run(data) as server:
        # This process reads and writes the server's own SQLite database.
        for name in ("LASTMILE_DATABASE_URL", "LASTMILE_BROKER_URL", "LASTMILE_BROKER_KEY_PREFIX"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LASTMILE_DATA_DIR", str(data))
        clear_caches()
        with get_sessionmaker()() as session:
            from tests.auth_helpers import workspace_for

            workspace_id = workspace_for(session, None)
            token = _token(session)
            model = register_tiny(session)
            adapter = tiny_adapter(session, workspace_id, model.id)
            adapter_model, base_model = f"adapter-{adapter.id}", model.key

        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0, timeout=240)
        listed = {m.id for m in client.models.list()}
        assert {adapter_model, base_model} <= listed

        def ask(name: str):
            brief = [{"role": "user", "content": "Reply to the client about the container."}]
            return client.chat.completions.create(
                model=name, messages=brief, max_tokens=12, temperature=0, seed=0
            )

        adapted = ask(adapter_model)
        assert adapted.model == adapter_model and adapted.object == "chat.completion"
        choice = adapted.choices[0]
        assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
        assert choice.finish_reason in ("stop", "length") and 1 <= adapted.usage.completion_tokens <= 12
        assert adapted.usage.total_tokens == adapted.usage.prompt_tokens + adapted.usage.completion_tokens
        base = ask(base_model)
        assert base.model == base_model and base.choices[0].message.content != choice.message.content
        assert ask(adapter_model).choices[0].message.content == choice.message.content  # greedy: the same

        with pytest.raises(openai.NotFoundError) as missing:
            ask("adapter-999999")
        assert missing.value.status_code == 404 and missing.value.body["code"] == "model_not_found"
        with pytest.raises(openai.BadRequestError) as streamed:
            client.chat.completions.create(
                model=adapter_model, messages=[{"role": "user", "content": "Hi"}], stream=True
            )
        assert streamed.value.body["param"] == "stream"
        anonymous = openai.OpenAI(base_url=f"{server.url}/v1", api_key="lm_not-a-token", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            anonymous.models.list()
        assert refused.value.status_code == 401 and refused.value.body["code"] == "invalid_api_key"

        with get_sessionmaker()() as session:
            rows = session.scalars(select(Generation).order_by(Generation.id)).all()
            assert [(g.purpose, g.state) for g in rows] == [("api", "succeeded")] * 3
    clear_caches()
