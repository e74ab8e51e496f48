"""Policy section of manual approval and production promotion (top-level ``approval:``)."""

from __future__ import annotations

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
    """

    approvers: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=86400.0, gt=0)
    poll_initial_s: float = Field(default=5.0, gt=0)
    poll_max_s: float = Field(default=300.0, gt=0)
    production_alias: str = Field(default="production", min_length=1)
    staging_alias: str = Field(default="staging", min_length=1)
    audit_mirror: str | None = None

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
