"""Credentials for a Kubeflow Pipelines endpoint and one-line errors from talking to it.

A bearer token (``--token``/``KFP_TOKEN``), a service-account token file re-read before every
request, or a session cookie; :func:`preflight` checks the endpoint and the credentials with one
request before ``kfp.Client`` (which retries for half a minute and prints pages of errors) is
made. Every failure a person can fix is a one-line :class:`GateInputError`; credential values
never appear in a message.

kfp is imported inside the functions: ``quality_gates.shared`` stays importable without it.
"""

from __future__ import annotations

import contextlib
import io
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quality_gates.shared.contracts.errors import GateInputError

_PREFLIGHT_TIMEOUT_S = 15.0

# --------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Auth:
    """How requests authenticate; at most one of the three is set.

    Attributes:
        token: A bearer token given directly (``--token`` or ``KFP_TOKEN``).
        token_file: A file holding a bearer token (a projected service-account token), read
            again before every request because the kubelet rotates it.
        cookie: A session cookie ``name=value`` (e.g. ``authservice_session=...``).
        source: Where the credential came from, for messages (never the value).
    """

    token: str | None = None
    token_file: str | None = None
    cookie: str | None = None
    source: str = "no credentials"

    def bearer(self) -> str | None:
        """Return the current bearer token (re-reading ``token_file``), or None."""
        if self.token_file:
            return _read_token_file(self.token_file)
        return self.token

    def headers(self) -> dict[str, str]:
        """Return the HTTP headers that carry the credential."""
        out: dict[str, str] = {}
        token = self.bearer()
        if token:
            out["Authorization"] = f"Bearer {token}"
        if self.cookie:
            out["Cookie"] = self.cookie
        return out

    def secrets(self) -> list[str]:
        """Return every credential value that must never be printed."""
        values = [self.token, self.cookie]
        if self.token_file:
            with contextlib.suppress(GateInputError):
                values.append(_read_token_file(self.token_file))
        if self.cookie and "=" in self.cookie:
            values.append(self.cookie.split("=", 1)[1])
        return [v for v in values if v]


def resolve_auth(
    *,
    token: str | None,
    token_file: str | None,
    cookie: str | None,
    env_token: str | None,
) -> Auth:
    """Pick the one credential source, or fail naming the conflicting ones.

    ``KFP_TOKEN`` counts as a source like the flags, so a CI job that exports it and also passes
    ``--cookie`` is told about the conflict instead of silently sending one of them.

    Args:
        token: ``--token``.
        token_file: ``--token-file``.
        cookie: ``--cookie``.
        env_token: The ``KFP_TOKEN`` environment variable.

    Returns:
        The credentials; an empty :class:`Auth` when none was given (a port-forwarded,
        single-user KFP needs none).

    Raises:
        GateInputError: More than one source, an unreadable or empty token file, or a cookie
            that is not ``name=value``.
    """
    given = {
        "--token": token,
        "KFP_TOKEN (environment)": env_token if token is None else None,
        "--token-file": token_file,
        "--cookie": cookie,
    }
    chosen = [name for name, value in given.items() if value is not None]
    if len(chosen) > 1:
        raise GateInputError(
            f"credentials given more than once ({', '.join(chosen)}); pass exactly one of "
            "--token (or KFP_TOKEN), --token-file or --cookie"
        )
    if token is not None or (env_token is not None and token_file is None and cookie is None):
        value = token if token is not None else env_token
        if not (value or "").strip():
            raise GateInputError(f"{chosen[0]} is empty; pass a bearer token for the KFP API")
        return Auth(token=value.strip(), source=chosen[0])
    if token_file is not None:
        _read_token_file(token_file)  # fail now, in one line, rather than on the first request
        return Auth(token_file=token_file, source=f"--token-file {token_file}")
    if cookie is not None:
        if "=" not in cookie or not cookie.split("=", 1)[1].strip():
            raise GateInputError(
                "--cookie must be name=value, e.g. authservice_session=<value from the browser>"
            )
        return Auth(cookie=cookie.strip(), source="--cookie")
    return Auth()


def _read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise GateInputError(
            f"cannot read the token file {path} ({exc.strerror or exc}); pass the path of a "
            "service-account token, e.g. /var/run/secrets/kubeflow/pipelines/token"
        ) from None
    if not token:
        raise GateInputError(f"the token file {path} is empty; it must hold a bearer token")
    return token


# --------------------------------------------------------------------------------------------
# Talking to the API
# --------------------------------------------------------------------------------------------


class _Scrubbed:
    """Replace credential values in text; a message may quote a header the server echoed."""

    def __init__(self, auth: Auth) -> None:
        self._secrets = sorted(auth.secrets(), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """Return ``scheme://host:port`` of a URL (default port filled in), never its user info.

    Args:
        url: An absolute URL.

    Returns:
        The origin credentials are bound to.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within the host's origin; refuse one that leaves it.

    urllib copies every header of the request, ``Authorization`` and ``Cookie`` included, to the
    redirect's target: a server (or anything in front of it) answering 302 to another host
    would receive the credential. A cross-origin redirect is refused, naming where it pointed.
    """

    def __init__(self, host: str) -> None:
        super().__init__()
        self._origin = origin(host)
        self._host = host

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        target = urllib.parse.urljoin(req.full_url, newurl)
        if origin(target) != self._origin:
            raise GateInputError(
                f"KFP endpoint {self._host} redirected (HTTP {code}) to another host, "
                f"{origin(target)}; credentials are never sent there. If that is the KFP API, "
                "pass it as --host; a redirect to a login page means the credentials were not "
                "accepted"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def preflight(host: str, auth: Auth, *, namespace: str | None) -> dict[str, Any]:
    """Check that ``host`` is a reachable KFP API that accepts the credentials.

    ``kfp.Client`` retries a failing healthz five times, five seconds apart, and then raises a
    multi-line error; one direct request with a timeout answers in one line instead.

    Args:
        host: KFP endpoint, e.g. ``https://kubeflow.example.com/pipeline``.
        auth: Credentials.
        namespace: The ``--namespace`` given, if any.

    Returns:
        The healthz answer (``multi_user``, ...).

    Raises:
        GateInputError: Unreachable, refused credentials, not a KFP API, or a multi-user
            deployment without a namespace.
    """
    url = host.rstrip("/") + "/apis/v2beta1/healthz"
    request = urllib.request.Request(url, headers={"Accept": "application/json", **auth.headers()})
    scrub = _Scrubbed(auth)
    opener = urllib.request.build_opener(_SameOriginRedirects(host))
    try:
        with opener.open(request, timeout=_PREFLIGHT_TIMEOUT_S) as resp:
            ctype = resp.headers.get("Content-Type", "")
            body = resp.read()
    except GateInputError as exc:
        raise GateInputError(scrub(str(exc))) from None
    except urllib.error.HTTPError as exc:
        raise GateInputError(_http_error(host, exc.code, "checking the API health", auth)) from None
    except urllib.error.URLError as exc:
        raise GateInputError(
            f"KFP endpoint {host} is unreachable ({_reason(exc.reason)}); check --host / "
            "KFP_HOST (e.g. http://127.0.0.1:8080 with `kubectl port-forward "
            "svc/ml-pipeline-ui 8080:80 -n kubeflow`)"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise GateInputError(
            f"KFP endpoint {host} is unreachable ({_reason(exc)}); check --host"
        ) from None
    try:
        health = json.loads(body)
    except ValueError:
        health = None
    if not isinstance(health, dict) or "json" not in ctype:
        raise GateInputError(
            f"{host} did not answer as the KFP API (got {ctype or 'no content type'}, probably a "
            "login page); pass --token, --token-file or --cookie, and the pipelines endpoint as "
            "--host"
        )
    if health.get("multi_user") and not namespace:
        raise GateInputError(
            f"KFP at {scrub(host)} is multi-user; pass --namespace with your profile's namespace"
        )
    return health


def _http_error(host: str, status: int, doing: str, auth: Auth) -> str:
    if status in (401, 403):
        what = "refused the credentials" if status == 401 else "denied access"
        return (
            f"KFP at {host} {what} (HTTP {status}) while {doing}, using {auth.source}; pass a "
            "valid --token, --token-file or --cookie (and --namespace you may use)"
        )
    if status == 404:
        return (
            f"{host} has no KFP v2beta1 API (HTTP 404 while {doing}); pass the pipelines "
            "endpoint as --host (KFP 2.x)"
        )
    return f"KFP at {host} answered HTTP {status} while {doing}"


def _reason(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {reason.reason or reason}"
    if isinstance(reason, TimeoutError):
        return "timed out"
    text = str(getattr(reason, "strerror", None) or reason)
    return " ".join(text.split()) or type(reason).__name__


@contextlib.contextmanager
def api_errors(host: str, auth: Auth, doing: str) -> Iterator[None]:
    """Turn kfp_server_api and connection errors into one-line :class:`GateInputError`.

    Also silences the links and warnings ``kfp.Client`` prints: the CLI prints its own.
    """
    import kfp_server_api
    import urllib3

    scrub = _Scrubbed(auth)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            yield
    except kfp_server_api.ApiException as exc:
        if not exc.status:  # the generated client reports TLS and similar failures as status 0
            raise GateInputError(
                f"KFP endpoint {host} failed while {doing}: {scrub(str(exc.reason))}"
            ) from None
        message = _server_message(exc.body)
        line = _http_error(host, exc.status, doing, auth)
        location = (exc.headers or {}).get("Location") if 300 <= exc.status < 400 else None
        if location:
            line += (
                f" (a redirect to {origin(urllib.parse.urljoin(host, location))}, not followed: "
                "credentials are never sent to another address; pass the API endpoint as --host)"
            )
        if message and exc.status not in (401, 403, 404):
            line += f": {message}"
        raise GateInputError(scrub(line)) from None
    except urllib3.exceptions.HTTPError as exc:
        cause = getattr(exc, "reason", None) or exc
        raise GateInputError(
            f"KFP endpoint {host} is unreachable while {doing} ({scrub(_reason(cause))})"
        ) from None


def _server_message(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return ""
    return " ".join(str(data.get("message", "")).split()) if isinstance(data, dict) else ""


def connect(host: str, auth: Auth, *, namespace: str | None):
    """Return a ``kfp.Client`` for ``host`` with the credentials (call :func:`preflight` first).

    A token file is handed over as kfp's ``ServiceAccountTokenVolumeCredentials``, whose hook
    reads the file before every request, so a rotated token keeps working during ``--wait``.
    """
    import kfp
    from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

    kwargs: dict[str, Any] = {"host": host.rstrip("/")}
    if auth.token:
        kwargs["existing_token"] = auth.token
    if auth.token_file:
        kwargs["credentials"] = ServiceAccountTokenVolumeCredentials(path=auth.token_file)
    if auth.cookie:
        kwargs["cookies"] = auth.cookie
    if namespace:
        kwargs["namespace"] = namespace
    with api_errors(host, auth, "connecting"):
        client = kfp.Client(**kwargs)
    _no_redirects(client)
    return client


def _no_redirects(client: Any) -> None:
    """Make the kfp client's HTTP pool answer a redirect instead of following it.

    Every request carries the credential; a redirect is reported as an error naming its target
    (see :func:`api_errors`) rather than followed, so no other host ever receives it.
    """
    seen: set[int] = set()
    for api in vars(client).values():
        pool = getattr(
            getattr(getattr(api, "api_client", None), "rest_client", None), "pool_manager", None
        )
        if pool is None or id(pool) in seen:
            continue
        seen.add(id(pool))
        urlopen = pool.urlopen

        def _urlopen(method: str, url: str, *args: Any, _open: Any = urlopen, **kw: Any) -> Any:
            kw["redirect"] = False
            return _open(method, url, *args, **kw)

        pool.urlopen = _urlopen
