"""GET /healthz against the real database and broker."""

import pytest


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_names_the_broker_when_it_is_down(client, monkeypatch: pytest.MonkeyPatch):
    from tests.conftest import clear_caches

    # Nothing listens on port 9 of loopback: a real refused connection, not a mock.
    monkeypatch.setenv("LASTMILE_BROKER_URL", "redis://127.0.0.1:9/0")
    clear_caches()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]
