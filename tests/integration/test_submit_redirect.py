"""A KFP endpoint that redirects elsewhere never gets the credential forwarded.

Two real HTTP servers on 127.0.0.1, on different ports (so different origins): the first answers
every request with a redirect to the second, which records the headers it received. Neither the
preflight of ``quality-gates submit`` nor the ``kfp.Client`` it builds may send the bearer token
or the session cookie to the second server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from quality_gates.shared.cli.main import main
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.kfp_glue import connection as kc

TOKEN = "tok-redirect-7c1e9a-never-forward-me"
COOKIE = "authservice_session=cookie-5d2b8f-never-forward-me"


class _Recorder(BaseHTTPRequestHandler):
    """Answers as a KFP healthz; keeps the headers of every request."""

    seen: list[dict[str, str]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = json.dumps({"multi_user": False, "commit_sha": "x"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


class _Redirector(BaseHTTPRequestHandler):
    """Answers every request with ``code`` to the same path on ``target``."""

    target: str
    code: int
    seen: list[dict[str, str]]

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(self.code)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def _pair(code: int) -> Iterator[tuple[str, str, list, list]]:
    """(redirecting host, target host, headers the redirector saw, headers the target saw)."""
    target_seen: list[dict[str, str]] = []
    redirect_seen: list[dict[str, str]] = []
    recorder = type("Recorder", (_Recorder,), {"seen": target_seen})
    with _serve(recorder) as target:
        redirector = type(
            "Redirector", (_Redirector,), {"target": target, "code": code, "seen": redirect_seen}
        )
        with _serve(redirector) as host:
            yield host, target, redirect_seen, target_seen


def _leaked(seen: list[dict[str, str]]) -> list[str]:
    return [
        name
        for headers in seen
        for name, value in headers.items()
        if name in ("authorization", "cookie") or TOKEN in value or "never-forward" in value
    ]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    # kfp.Client reads ~/.config/kfp/context.json (namespace, cookie): keep the user's out.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("KFP_HOST", "KFP_TOKEN", "KF_PIPELINES_ENDPOINT", "KF_PIPELINES_UI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(
    "auth", [kc.Auth(token=TOKEN, source="--token"), kc.Auth(cookie=COOKIE, source="--cookie")]
)
def test_preflight_refuses_a_redirect_to_another_host(code, auth):
    with _pair(code) as (host, target, redirect_seen, target_seen):
        with pytest.raises(GateInputError) as info:
            kc.preflight(host, auth, namespace=None)
    message = str(info.value)
    assert redirect_seen, "the preflight never reached the first server"
    assert _leaked(target_seen) == [], "a credential was forwarded to the redirect's host"
    assert target.removeprefix("http://") in message and "redirect" in message
    assert TOKEN not in message and "never-forward" not in message and "\n" not in message


def test_preflight_follows_a_redirect_within_the_same_host():
    seen: list[dict[str, str]] = []

    class _Both(_Recorder):
        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/old"):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/old"))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    _Both.seen = seen
    with _serve(_Both) as host:
        health = kc.preflight(host + "/old", kc.Auth(token=TOKEN), namespace=None)
    assert health["multi_user"] is False
    assert seen and seen[-1].get("authorization") == f"Bearer {TOKEN}"


def test_submit_cli_names_the_redirect_host_and_sends_it_nothing(capsys, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("gates:\n  pii: {max_findings: 0}\n")
    with _pair(302) as (host, target, _redirect_seen, target_seen):
        code = main(
            [
                "submit",
                "--host",
                host,
                "--token",
                TOKEN,
                "--model-uri",
                "models:/m/1",
                "--data-uri",
                "s3://bucket/eval.parquet",
                "--policy",
                str(policy),
                "--registered-model-name",
                "m",
            ]
        )
    err = capsys.readouterr().err
    assert code == 2
    assert _leaked(target_seen) == []
    assert target.removeprefix("http://") in err and TOKEN not in err


@pytest.mark.parametrize(
    "auth", [kc.Auth(token=TOKEN, source="--token"), kc.Auth(cookie=COOKIE, source="--cookie")]
)
def test_kfp_client_never_forwards_credentials_on_a_redirect(auth):
    pytest.importorskip("kfp")
    with _pair(302) as (host, target, redirect_seen, target_seen):
        client = kc.connect(host, auth, namespace="team-a")
        with pytest.raises(GateInputError) as info:
            with kc.api_errors(host, auth, "listing experiments"):
                client.list_experiments(namespace="team-a")
    assert redirect_seen, "the kfp client never reached the first server"
    assert _leaked(target_seen) == [], "kfp.Client forwarded a credential to the redirect's host"
    message = str(info.value)
    assert target.removeprefix("http://") in message and TOKEN not in message
