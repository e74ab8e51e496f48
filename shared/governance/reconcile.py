"""Reconcile the registry with the audit log: every alias holder and approval has its record.

The audit log proves what was decided; the registry is what serves. Someone with registry write
access can move an alias or set approval tags without going through quality-gates (or a crash
can leave an alias moved whose record was never written). :func:`reconcile` names each such
difference, so ``quality-gates audit verify`` fails on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quality_gates.shared.tracking.client import TAG_PREFIX

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

_PRODUCTION_EVENTS = ("approval", "rollback", "adoption", "canary_promotion")


def _versions_with(records: list[dict[str, Any]], event: str) -> set[str]:
    return {str(r.get("version")) for r in records if r.get("event") == event and r.get("version")}


def _production_version(record: dict[str, Any]) -> str | None:
    details = record.get("details") or {}
    if record.get("event") == "rollback":
        return str(details.get("to_version") or record.get("version") or "") or None
    held = details.get("production_version") or record.get("version")
    return str(held) if held else None


def _last_production(
    records: list[dict[str, Any]], model: str, name: str, alias: str = "production"
) -> str | None:
    """The production-model version the log last moved production to."""
    for r in reversed(records):
        if r.get("event") not in _PRODUCTION_EVENTS:
            continue
        details = r.get("details") or {}
        if r.get("event") == "approval" and details.get("alias", alias) != alias:
            continue  # a canary release's approval moved its own alias, not production
        if (details.get("production_model") or name) == model:
            return _production_version(r)
    return None


def _version_problems(client: MlflowClient, name: str, records: list[dict[str, Any]]) -> list[str]:
    promoted = _versions_with(records, "promotion")
    approved = {
        str(r.get("version")): str(r.get("actor")) for r in records if r.get("event") == "approval"
    }
    problems = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        if mv.name != name:
            continue
        v, tags = str(mv.version), dict(mv.tags or {})
        if tags.get(f"{TAG_PREFIX}approval") == "approved" and v not in approved:
            problems.append(
                f"registry: version {v} is tagged approved (by "
                f"{tags.get(f'{TAG_PREFIX}approver', '?')}) but the audit log has no approval "
                "of it: set outside quality-gates"
            )
        elif v in approved and tags.get(f"{TAG_PREFIX}approver", "").casefold() != (
            approved[v].casefold()
        ):
            problems.append(
                f"registry: version {v}'s approver tag differs from the audit log's approver "
                f"({approved[v]}): the tag was edited"
            )
        if tags.get(f"{TAG_PREFIX}model_digest") and v not in promoted:
            problems.append(
                f"registry: version {v} carries quality-gates evidence tags but the audit log "
                "has no promotion of it"
            )
    return problems


def reconcile(
    client: MlflowClient,
    name: str,
    records: list[dict[str, Any]],
    *,
    production_alias: str = "production",
    staging_alias: str = "staging",
) -> list[str]:
    """Compare the registry's aliases and approval tags with the audit log.

    Args:
        client: MLflow client.
        name: The gated registered model.
        records: Its audit records (already verified as a chain).
        production_alias: The production alias.
        staging_alias: The staging alias.

    Returns:
        One line per difference; empty when the registry matches the log.
    """
    problems = _version_problems(client, name, records)
    aliases = dict(client.get_registered_model(name).aliases or {})
    staged = aliases.get(staging_alias)
    if staged and str(staged) not in _versions_with(records, "promotion"):
        problems.append(
            f"registry: '{staging_alias}' is on version {staged} but the audit log has no "
            "promotion of it: moved outside quality-gates"
        )
    models = {name} | {
        str((r.get("details") or {}).get("production_model"))
        for r in records
        if r.get("event") == "approval" and (r.get("details") or {}).get("production_model")
    }
    for model in sorted(models):
        try:
            held = (client.get_registered_model(model).aliases or {}).get(production_alias)
        except Exception:  # noqa: BLE001 - a production model that is gone holds nothing
            held = None
        if held is None:
            continue
        logged = _last_production(records, model, name, production_alias)
        if str(held) != logged:
            said = f"version {logged}" if logged else "no version"
            problems.append(
                f"registry: '{production_alias}' of '{model}' is on version {held} but the audit "
                f"log last moved it to {said}: moved without a record"
            )
    return problems
