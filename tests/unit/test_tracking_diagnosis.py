"""``ensure_reachable`` tells the causes apart and never echoes the password.

Real sockets on 127.0.0.1: a closed port (connection refused) and a tiny HTTP server that answers
401 to everything, or only to the API when ``/health`` is open (as in MLflow's basic-auth app).
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.tracking.client import ensure_reachable

PASSWORD = "s3cr3t-pw-never-echo"
GOOD = "alice:right-password"


@pytest.fixture(autouse=True)
def _no_env_credentials(monkeypatch):
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(*, open_health: bool) -> Iterator[int]:
    expected = "Basic " + base64.b64encode(GOOD.encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            ok = self.headers.get("Authorization") == expected or (
                open_health and self.path == "/health"
            )
            self.send_response(200 if ok else 401)
            if not ok:
                self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("userinfo", ["", "bob:" + PASSWORD + "@"])
def test_a_closed_port_is_connection_refused_not_a_missing_host(userinfo):
    uri = f"http://{userinfo}127.0.0.1:{_closed_port()}"
    with pytest.raises(GateInputError) as info:
        ensure_reachable(uri)
    message = str(info.value)
    assert "connection refused" in message and "not found" not in message
    assert PASSWORD not in message and "127.0.0.1" in message and "\n" not in message


@pytest.mark.parametrize("open_health", [False, True])
def test_wrong_credentials_in_the_uri_are_refused_credentials(open_health):
    with _server(open_health=open_health) as port:
        with pytest.raises(GateInputError) as info:
            ensure_reachable(f"http://bob:{PASSWORD}@127.0.0.1:{port}")
    message = str(info.value)
    assert "the server refused the credentials" in message and "401" in message
    assert PASSWORD not in message and "not found" not in message and "unreachable" not in message


def test_wrong_credentials_from_the_environment_are_refused_credentials(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    with _server(open_health=True) as port:
        with pytest.raises(GateInputError, match="refused the credentials") as info:
            ensure_reachable(f"http://127.0.0.1:{port}")
    assert PASSWORD not in str(info.value)


def test_no_credentials_for_a_server_that_needs_them_says_so():
    with _server(open_health=False) as port:
        with pytest.raises(GateInputError, match="needs credentials"):
            ensure_reachable(f"http://127.0.0.1:{port}")


@pytest.mark.parametrize("open_health", [False, True])
def test_accepted_credentials_in_the_uri_pass(open_health):
    with _server(open_health=open_health) as port:
        ensure_reachable(f"http://{GOOD}@127.0.0.1:{port}")


def test_an_unknown_host_is_a_dns_failure():
    with pytest.raises(GateInputError) as info:
        ensure_reachable(f"http://bob:{PASSWORD}@no-such-host.invalid:5000")
    message = str(info.value)
    assert "not found" in message and "no-such-host.invalid" in message
    assert PASSWORD not in message
