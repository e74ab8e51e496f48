"""Policy section of manual approval and production promotion (top-level ``approval:``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from quality_gates.shared.policy.base import StrictModel


class ApprovalPolicy(StrictModel):
    """Who may approve a staged model for production, and how long the pipeline waits.

    Attributes:
        approvers: Identities allowed to approve or reject (compared case-insensitively). An
            empty list means nobody may approve: every approval is refused (fail closed).
        timeout_s: How long the ``manual_approval`` step waits before recording ``timed_out``.
        poll_initial_s: First polling interval; doubled after each poll up to ``poll_max_s``.
        poll_max_s: Longest polling interval.
        production_alias: Alias an approval moves to the version (and a rollback moves back).
        staging_alias: Alias the gated promotion sets; the version waiting for approval.
        audit_mirror: Folder (local path or fsspec URI such as ``s3://bucket/audit``) the audit
            log is copied to after every append; none when unset.
        production_model: Registered model that holds the production alias, when it is not the
            gated one: ``{name}`` is replaced by the gated model's name (e.g.
            ``"{name}-production"``). With MLflow authentication, only approvers get EDIT on it,
            so the pipeline's identity cannot move production (docs/THREAT_MODEL.md). Unset: the
            gated model holds production too.
        release: ``direct`` (an approval moves production) or ``canary`` (an approval moves
            ``canary_alias``; production moves when ``quality-gates rollout`` has taken the
            version through every canary stage, ``release.canary``).
        canary_alias: The alias an approval sets in a canary release.
        max_waiver_days: Longest a waiver may run: its ``until`` may be at most this many days
            after the day it is used. A waiver that runs longer is refused (has no effect).
    """

    approvers: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=86400.0, gt=0)
    poll_initial_s: float = Field(default=5.0, gt=0)
    poll_max_s: float = Field(default=300.0, gt=0)
    production_alias: str = Field(default="production", min_length=1)
    staging_alias: str = Field(default="staging", min_length=1)
    audit_mirror: str | None = None
    production_model: str | None = None
    max_waiver_days: int = Field(default=90, ge=1, le=3660)
    release: Literal["direct", "canary"] = "direct"
    canary_alias: str = Field(default="approved", min_length=1)

    @property
    def alias_on_approval(self) -> str:
        """The alias an approval moves: production, or in a canary release ``canary_alias``."""
        return self.canary_alias if self.release == "canary" else self.production_alias

    @field_validator("approvers")
    @classmethod
    def _clean_approvers(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for item in value:
            name = item.strip()
            if not name:
                raise ValueError("an approver identity is empty; remove it or name the person")
            if name.casefold() in (o.casefold() for o in out):
                raise ValueError(f"approver '{name}' is listed twice")
            out.append(name)
        return out

    @field_validator("audit_mirror")
    @classmethod
    def _clean_mirror(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("production_model")
    @classmethod
    def _clean_production_model(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = value.strip()
        if "'" in text or "`" in text:
            raise ValueError("production_model contains a quote; use another name")
        if "{" in text.replace("{name}", ""):
            raise ValueError("production_model may only use the placeholder {name}")
        return text

    def production_model_for(self, name: str) -> str:
        """Return the registered model that holds production for the gated model ``name``."""
        return self.production_model.replace("{name}", name) if self.production_model else name

    @model_validator(mode="after")
    def _consistent(self) -> ApprovalPolicy:
        if self.poll_max_s < self.poll_initial_s:
            raise ValueError(
                f"poll_max_s ({self.poll_max_s}) is below poll_initial_s ({self.poll_initial_s})"
            )
        if self.production_alias == self.staging_alias:
            raise ValueError(
                f"production_alias and staging_alias are both '{self.staging_alias}'; use two "
                "different aliases"
            )
        return self

    def allows(self, identity: str) -> bool:
        """Whether ``identity`` is on the approver allow-list (case-insensitive).

        Args:
            identity: The identity to check.

        Returns:
            True when listed.
        """
        wanted = identity.strip().casefold()
        return bool(wanted) and any(a.casefold() == wanted for a in self.approvers)
