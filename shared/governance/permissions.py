"""Who may do what in MLflow's basic-auth app: the pipeline stages, only approvers move production.

MLflow's authentication app grants READ / EDIT / MANAGE per registered model and per experiment,
never per alias. So the ``production`` alias lives on a separate registered model (the policy's
``approval.production_model``, e.g. ``<name>-production``) that only approvers may edit; approval
copies the approved version into it (shared/governance/approval.py). The table, per gated model:

- pipeline user: EDIT on registered model ``<name>``, READ on the production model, EDIT on the
  experiments ``quality-gates-<name>`` (evaluation runs) and ``quality-gates-audit`` (audit log);
- approver: EDIT on the production model, READ on ``<name>``, EDIT on ``quality-gates-audit``.

Every grant is written explicitly, so the table holds under ``default_permission = READ`` and
under ``NO_PERMISSIONS`` alike. :func:`setup_permissions` runs with admin credentials
(``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``); :func:`check_permissions` asks the
server for each user's *effective* permission (grants, roles, ownership and the default folded
together, as the server decides a request) and reports what breaks the rule. No function here
handles a password: users are created by the site, and credentials stay in the environment.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.governance.audit import EXPERIMENT as AUDIT_EXPERIMENT
from quality_gates.shared.tracking.client import (
    connect,
    ensure_experiment,
    ensure_reachable,
    error_code,
    mlflow_call,
    mlflow_error,
    resolve_tracking_uri,
)
from quality_gates.shared.tracking.identity import server_identity

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

MODEL = "registered_model"
EXPERIMENT = "experiment"
PIPELINE = "pipeline user"
APPROVER = "approver"
# Permission names of MLflow's auth app, weakest first; DENY and NO_PERMISSIONS grant nothing.
_RANK = {"DENY": 0, "NO_PERMISSIONS": 0, "READ": 1, "USE": 2, "EDIT": 3, "MANAGE": 4}
_CAN_UPDATE = frozenset({"EDIT", "MANAGE"})


@dataclass(frozen=True)
class Grant:
    """One row of the permission table.

    Attributes:
        user: The MLflow user name.
        role: ``pipeline user`` or ``approver``.
        resource_type: ``registered_model`` or ``experiment`` (MLflow's resource types).
        resource: The model or experiment name (what a person reads).
        permission: ``READ`` or ``EDIT``.
    """

    user: str
    role: str
    resource_type: str
    resource: str
    permission: str

    def describe(self) -> str:
        """Return the resource as a person names it, e.g. ``registered model 'credit'``."""
        kind = "registered model" if self.resource_type == MODEL else "experiment"
        return f"{kind} '{self.resource}'"


def evaluation_experiment(model: str) -> str:
    """Return the experiment the pipeline logs ``model``'s evaluation runs in."""
    return f"quality-gates-{model}"


def permission_table(
    *, model: str, production_model: str, pipeline_users: Sequence[str], approvers: Sequence[str]
) -> list[Grant]:
    """Return every grant the design needs, pipeline users first.

    Args:
        model: The gated registered model (the pipeline registers versions, sets ``staging``).
        production_model: The registered model holding ``production`` (approvers only).
        pipeline_users: MLflow users the pipeline's tasks authenticate as.
        approvers: MLflow users who approve.

    Returns:
        One :class:`Grant` per user and resource.

    Raises:
        GateInputError: On empty or duplicate names, the two models being one, or a user listed
            as both a pipeline user and an approver (who stages must not approve).
    """
    model, production_model = model.strip(), production_model.strip()
    if not model or not production_model:
        raise GateInputError("pass --model NAME and --production-model NAME (both non-empty)")
    if model == production_model:
        raise GateInputError(
            f"the production model must differ from '{model}': MLflow grants per registered "
            "model, so one model cannot let the pipeline set staging but not production"
        )
    pipeline, approving = _names(pipeline_users, PIPELINE), _names(approvers, APPROVER)
    both = sorted(set(pipeline) & set(approving))
    if both:
        raise GateInputError(
            f"{', '.join(both)} listed as pipeline user and approver; the identity that stages "
            "a model must not be able to move production"
        )
    evaluation = evaluation_experiment(model)
    rows = [
        *(
            (u, PIPELINE, kind, name, perm)
            for u in pipeline
            for kind, name, perm in (
                (MODEL, model, "EDIT"),
                (MODEL, production_model, "READ"),
                (EXPERIMENT, evaluation, "EDIT"),
                (EXPERIMENT, AUDIT_EXPERIMENT, "EDIT"),
            )
        ),
        *(
            (u, APPROVER, kind, name, perm)
            for u in approving
            for kind, name, perm in (
                (MODEL, production_model, "EDIT"),
                # Approval records its decision on the gated version (tags, lease) as well.
                (MODEL, model, "EDIT"),
                (EXPERIMENT, AUDIT_EXPERIMENT, "EDIT"),
            )
        ),
    ]
    return [Grant(*row) for row in rows]


def _names(users: Sequence[str], role: str) -> list[str]:
    names = [u.strip() for u in users]
    if not names or not all(names):
        raise GateInputError(f"name at least one {role} (--{role.split()[0]}-user / --approver)")
    if len(set(names)) != len(names):
        raise GateInputError(f"a {role} is listed twice: {', '.join(names)}")
    return names


def _auth_client(tracking: str) -> Any:
    # MLflow's auth client lives in the server package (flask ...), which the MLflow client
    # (mlflow-skinny, what the package and the images install) does not have.
    try:
        from mlflow.server.auth.client import AuthServiceClient
    except ImportError as exc:
        raise GateInputError(
            "granting permissions needs the full MLflow package (its auth client imports the "
            f"server; {exc.name or 'a server module'} is missing here): "
            "pip install 'kfp-quality-gates[auth]'"
        ) from None
    return AuthServiceClient(tracking)


def _require_admin(auth: Any, tracking: str) -> str:
    """The authenticated caller, refused unless the server runs basic-auth and they are admin."""
    if urllib.parse.urlparse(tracking).scheme not in ("http", "https"):
        raise GateInputError(
            f"permissions live on an MLflow server: {tracking} is not http(s); pass "
            "--tracking-uri http://... of a server started with --app-name basic-auth"
        )
    ensure_reachable(tracking)
    me = server_identity(tracking)
    if me is None:
        raise GateInputError(
            f"the MLflow server at {tracking} has no authentication app (404 on "
            "/api/2.0/mlflow/users/current); start it with `mlflow server --app-name basic-auth`"
        )
    with mlflow_call(doing=f"looking up user '{me}'", tracking_uri=tracking):
        admin = bool(auth.get_user(me).is_admin)
    if not admin:
        raise GateInputError(
            f"'{me}' is not an MLflow admin at {tracking}; run with the admin's credentials "
            "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)"
        )
    return me


def _missing_users(auth: Any, users: Sequence[str], tracking: str) -> list[str]:
    missing = []
    for user in users:
        try:
            auth.get_user(user)
        except Exception as exc:
            if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise mlflow_error(
                    exc, doing=f"looking up user '{user}'", tracking_uri=tracking
                ) from None
            missing.append(user)
    return missing


def _ensure_model(client: MlflowClient, name: str) -> bool:
    """Create registered model ``name`` when absent; True when this call created it."""
    try:
        client.get_registered_model(name)
        return False
    except Exception as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise
    try:
        client.create_registered_model(name, description="Managed by kfp-quality-gates")
    except Exception as exc:
        if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # created concurrently
            raise
        return False
    return True


def _ensure_resources(
    client: MlflowClient, grants: Sequence[Grant], tracking: str
) -> tuple[dict[tuple[str, str], str], list[str]]:
    """Create the models and experiments the grants name; return their ids and what was done."""
    ids: dict[tuple[str, str], str] = {}
    lines = []
    for grant in grants:
        key = (grant.resource_type, grant.resource)
        if key in ids:
            continue
        if grant.resource_type == MODEL:
            created = _ensure_model(client, grant.resource)
            ids[key] = grant.resource
        else:
            created = client.get_experiment_by_name(grant.resource) is None
            ids[key] = ensure_experiment(client, grant.resource, tracking_uri=tracking)
        lines.append(f"{'created' if created else 'exists'}: {grant.describe()}")
    return ids, lines


def _apply(auth: Any, grant: Grant, resource_id: str) -> str:
    """Make ``grant`` the user's direct permission on the resource; say what changed."""
    args = (grant.user, grant.resource_type, resource_id)
    try:
        auth.grant_user_permission(*args, grant.permission)
        return f"granted: {grant.user} {grant.permission} on {grant.describe()}"
    except Exception as exc:
        if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
            raise
    # A direct grant exists (an earlier run, or ownership of what the user created).
    current = auth.get_user_permission(*args).permission
    if current == grant.permission:
        return f"unchanged: {grant.user} {grant.permission} on {grant.describe()}"
    auth.revoke_user_permission(*args)
    auth.grant_user_permission(*args, grant.permission)
    return f"changed: {grant.user} {current} -> {grant.permission} on {grant.describe()}"


def setup_permissions(
    *,
    tracking_uri: str | None,
    model: str,
    production_model: str,
    pipeline_users: Sequence[str],
    approvers: Sequence[str],
) -> list[str]:
    """Create the models and experiments and grant exactly the permission table (idempotent).

    Runs as an MLflow admin (``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``).
    A direct grant that differs (e.g. MANAGE from having created the model) is replaced. After
    granting, the server's effective permissions are checked with :func:`check_permissions`.

    Args:
        tracking_uri: The MLflow server (default ``MLFLOW_TRACKING_URI``).
        model: The gated registered model.
        production_model: The registered model holding ``production``.
        pipeline_users: MLflow users the pipeline authenticates as.
        approvers: MLflow users who approve.

    Returns:
        One line per resource and grant: created / exists, granted / unchanged / changed.

    Raises:
        GateInputError: When the server has no auth app, the caller is not an admin, a user
            does not exist, the input is inconsistent, or a problem remains after granting.
    """
    grants = permission_table(
        model=model,
        production_model=production_model,
        pipeline_users=pipeline_users,
        approvers=approvers,
    )
    tracking = resolve_tracking_uri(tracking_uri)
    auth = _auth_client(tracking)
    me = _require_admin(auth, tracking)
    users = list(dict.fromkeys(g.user for g in grants))
    missing = _missing_users(auth, users, tracking)
    if missing:
        raise GateInputError(
            f"MLflow user(s) {', '.join(missing)} do not exist at {tracking}; create them first "
            "(the site owns passwords: AuthServiceClient.create_user or the MLflow UI)"
        )
    lines = [f"acting as admin '{me}' at {tracking}"]
    with mlflow_call(doing="creating models and experiments", tracking_uri=tracking):
        ids, done = _ensure_resources(connect(tracking), grants, tracking)
    lines += done
    with mlflow_call(doing="granting permissions", tracking_uri=tracking):
        lines += [_apply(auth, g, ids[(g.resource_type, g.resource)]) for g in grants]
    problems = _problems(auth, grants, ids, tracking)
    if problems:
        raise GateInputError(
            "permissions granted, but the server still resolves: " + "; ".join(problems)
        )
    return lines


def _resource_ids(
    client: MlflowClient, grants: Sequence[Grant]
) -> tuple[dict[tuple[str, str], str], list[str]]:
    """Ids of the resources that exist, and a problem line for each that does not."""
    ids: dict[tuple[str, str], str] = {}
    problems = []
    for key in dict.fromkeys((g.resource_type, g.resource) for g in grants):
        kind, name = key
        if kind == MODEL:
            try:
                client.get_registered_model(name)
                ids[key] = name
            except Exception as exc:
                if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                    raise
                problems.append(f"registered model '{name}' does not exist")
            continue
        exp = client.get_experiment_by_name(name)
        if exp is None or exp.lifecycle_stage == "deleted":
            problems.append(f"experiment '{name}' does not exist (or is deleted)")
        else:
            ids[key] = exp.experiment_id
    return ids, problems


def _problems(
    auth: Any, grants: Sequence[Grant], ids: dict[tuple[str, str], str], tracking: str
) -> list[str]:
    """What breaks the table, from the server's effective permissions."""
    problems = []
    with mlflow_call(doing="reading effective permissions", tracking_uri=tracking):
        for user in dict.fromkeys(g.user for g in grants if g.role == PIPELINE):
            if auth.get_user(user).is_admin:
                problems.append(f"pipeline user {user} is an MLflow admin: it can move production")
        for grant in grants:
            key = (grant.resource_type, grant.resource)
            if key not in ids:
                continue
            held = auth.get_user_permission(grant.user, grant.resource_type, ids[key]).permission
            if _RANK.get(held, 0) < _RANK[grant.permission]:
                problems.append(
                    f"{grant.role} {grant.user} lacks {grant.permission} on {grant.describe()} "
                    f"(has {held})"
                )
            elif grant.role == PIPELINE and grant.permission == "READ" and held in _CAN_UPDATE:
                problems.append(
                    f"pipeline user {grant.user} has {held} on the production model "
                    f"{grant.describe()}: it could move production"
                )
    return problems


def check_permissions(
    *,
    tracking_uri: str | None,
    model: str,
    production_model: str,
    pipeline_users: Sequence[str],
    approvers: Sequence[str],
) -> list[str]:
    """Report what breaks the permission table, as the server resolves each user's permission.

    Problems: a missing user, model or experiment; a user lacking the permission of the table
    (e.g. an approver without EDIT on the production model); a pipeline user with EDIT or
    MANAGE on the production model, or one who is an admin. Runs as an MLflow admin.

    Args:
        tracking_uri: The MLflow server (default ``MLFLOW_TRACKING_URI``).
        model: The gated registered model.
        production_model: The registered model holding ``production``.
        pipeline_users: MLflow users the pipeline authenticates as.
        approvers: MLflow users who approve.

    Returns:
        One line per problem; empty when the server enforces the design.

    Raises:
        GateInputError: When the server has no auth app, the caller is not an admin, or the
            input is inconsistent.
    """
    grants = permission_table(
        model=model,
        production_model=production_model,
        pipeline_users=pipeline_users,
        approvers=approvers,
    )
    tracking = resolve_tracking_uri(tracking_uri)
    auth = _auth_client(tracking)
    _require_admin(auth, tracking)
    missing = _missing_users(auth, list(dict.fromkeys(g.user for g in grants)), tracking)
    problems = [f"MLflow user {user} does not exist" for user in missing]
    with mlflow_call(doing="looking up models and experiments", tracking_uri=tracking):
        ids, absent = _resource_ids(connect(tracking), grants)
    present = [g for g in grants if g.user not in missing]
    return [*problems, *absent, *_problems(auth, present, ids, tracking)]
