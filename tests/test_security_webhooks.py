"""Webhooks go to public servers only: internal addresses are refused when saved and when sent to, the
request goes to the address checked, and redirects are not followed."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

INTERNAL = [
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://localhost:6379/",
    "http://127.0.0.1:8000/api/datasets",
    "http://0.0.0.0/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://[::ffff:10.0.0.1]/",  # IPv4-mapped
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of 169.254.169.254
    "http://[2002:c0a8:0101::1]/",  # 6to4 form of 192.168.1.1
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://192.168.1.20/hook",
]


@pytest.fixture
def inbox():
    """Two local HTTP servers: the first answers 302 to the second; each keeps what reached it."""
    hits: dict[str, list] = {"first": [], "second": []}
    servers: list[HTTPServer] = []

    def handler(name: str):
        class Inbox(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hits[name].append((self.headers["Host"], json.loads(body)))
                if name == "first" and self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{servers[1].server_port}/stolen")
                else:
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_args) -> None:
                """Quiet."""

        return Inbox

    for name in hits:
        server = HTTPServer(("127.0.0.1", 0), handler(name))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield f"http://127.0.0.1:{servers[0].server_port}", hits
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_webhook_addresses_are_refused_when_saved(client, session, url):
    from app.models import Workspace

    response = client.post(
        f"/workspaces/{client.workspace_id}/rename", data={"name": "Default", "webhook_url": url}
    )
    assert response.status_code == 422 and "internal address" in response.text
    session.expire_all()
    assert session.get(Workspace, client.workspace_id).webhook_url is None


def test_unknown_hosts_and_credentials_in_the_address_are_refused(env):
    from app.services.outbound import OutboundRefused, check_url

    with pytest.raises(OutboundRefused, match="cannot find the server"):
        check_url("https://no-such-host.invalid/hook")
    with pytest.raises(OutboundRefused, match="no user name or password"):
        check_url("https://user:secret@93.184.215.14/hook")
    assert str(check_url("https://93.184.215.14/hook").address) == "93.184.215.14"


def test_an_internal_address_stored_earlier_is_refused_when_sent_to(env, inbox):
    from app.services.notices import post_webhook

    base, hits = inbox
    # Saved when it pointed elsewhere (or before this check existed): the send checks again.
    assert post_webhook(f"{base}/hook", "Training finished", None) is False
    assert hits == {"first": [], "second": []}


def test_an_allowed_range_is_reached_at_the_checked_address_and_redirects_are_not_followed(
    env, inbox, monkeypatch
):
    from app.services.notices import post_webhook
    from app.settings import get_settings

    monkeypatch.setenv("LASTMILE_OUTBOUND_ALLOW_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    base, hits = inbox
    port = base.rsplit(":", 1)[1]
    assert post_webhook(f"http://localhost:{port}/hook", "Training finished", "/runs/1") is True
    host, body = hits["first"][0]
    assert host == f"localhost:{port}" and body["message"] == "Training finished"
    assert post_webhook(f"{base}/redirect", "Training finished", None) is False
    assert len(hits["first"]) == 2 and hits["second"] == []
