"""Who is acting, as the tracking server authenticated them.

Against an MLflow server with authentication (MLflow's ``basic-auth`` app, or a custom
``authorization_function`` such as an OIDC integration), the identity is the one the server
answers for ``GET /api/2.0/mlflow/users/current`` with the caller's credentials
(``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` or ``MLFLOW_TRACKING_TOKEN``): a name typed on the
command line can only confirm it, never replace it. Against a server without authentication, or a
local sqlite/file store, nothing vouches for a name: such an identity is marked unauthenticated
wherever it is recorded.
"""

from __future__ import annotations

import getpass
import os
import urllib.parse
from dataclasses import dataclass

from quality_gates.shared.contracts.errors import GateInputError, redact

USER_ENV = "QUALITY_GATES_USER"
CURRENT_USER = "/api/2.0/mlflow/users/current"
_TIMEOUT_S = 10


@dataclass(frozen=True)
class Identity:
    """An acting identity.

    Attributes:
        name: The identity.
        authenticated: True when the tracking server authenticated it.
        source: Where it came from: ``server`` (authenticated), ``flag``, ``QUALITY_GATES_USER``
            or ``OS user``.
    """

    name: str
    authenticated: bool
    source: str


def claimed_identity(explicit: str | None) -> tuple[str, str]:
    """Return the identity a caller claims and where it came from (nothing verifies it).

    Order: the explicit value (a CLI flag), ``QUALITY_GATES_USER``, the operating-system user.

    Args:
        explicit: The identity given on the command line, or None.

    Returns:
        ``(identity, source)``.

    Raises:
        GateInputError: When no identity can be determined.
    """
    if explicit is not None and explicit.strip():
        return explicit.strip(), "flag"
    env = os.environ.get(USER_ENV, "").strip()
    if env:
        return env, USER_ENV
    try:
        user = getpass.getuser().strip()
    except Exception:  # noqa: BLE001 - no passwd entry (containers), no USER/LOGNAME
        user = ""
    if not user:
        raise GateInputError(
            f"cannot determine who you are: pass the identity explicitly or set {USER_ENV}"
        )
    return user, "OS user"


def server_identity(tracking_uri: str) -> str | None:
    """Return the user the tracking server authenticates this process as, or None.

    Args:
        tracking_uri: The tracking URI.

    Returns:
        The user name; None when the store is local or the server has no authentication.

    Raises:
        GateInputError: When the server refuses the credentials (401/403) or answers oddly.
    """
    if urllib.parse.urlparse(tracking_uri).scheme not in ("http", "https"):
        return None
    from mlflow.utils.rest_utils import http_request

    try:
        from mlflow.utils.credentials import get_default_host_creds
    except ImportError:  # MLflow 2.x
        from mlflow.tracking._tracking_service.utils import (
            _get_default_host_creds as get_default_host_creds,
        )

    where = redact(tracking_uri)
    try:
        resp = http_request(
            get_default_host_creds(tracking_uri),
            CURRENT_USER,
            "GET",
            timeout=_TIMEOUT_S,
            max_retries=0,
        )
    except Exception:  # noqa: BLE001 - unreachable: the caller's next call says so in one line
        return None
    if resp.status_code == 404:
        return None  # no authentication app on this server
    if resp.status_code in (401, 403):
        raise GateInputError(
            f"the MLflow server at {where} refused the credentials (HTTP {resp.status_code}); "
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"
        )
    try:
        name = str(resp.json()["user"]["username"]).strip()
    except (ValueError, KeyError, TypeError):
        name = ""
    if resp.status_code != 200 or not name:
        raise GateInputError(
            f"the MLflow server at {where} answered HTTP {resp.status_code} for its current "
            "user without a user name; check that its authentication app is MLflow's"
        )
    return name


def acting_identity(explicit: str | None, tracking_uri: str) -> Identity:
    """Return who is acting: the server-authenticated user where there is one.

    Args:
        explicit: The identity passed on the command line (``--as``), or None.
        tracking_uri: The tracking URI.

    Returns:
        The identity; ``authenticated`` tells whether the server vouched for it.

    Raises:
        GateInputError: When ``explicit`` differs from the authenticated user, or the server
            refuses the credentials.
    """
    authenticated = server_identity(tracking_uri)
    if authenticated is None:
        name, source = claimed_identity(explicit)
        return Identity(name=name, authenticated=False, source=source)
    if explicit and explicit.strip() and explicit.strip().casefold() != authenticated.casefold():
        raise GateInputError(
            f"--as '{explicit.strip()}' is not who the MLflow server authenticated "
            f"('{authenticated}'); act under your own credentials"
        )
    return Identity(name=authenticated, authenticated=True, source="server")
