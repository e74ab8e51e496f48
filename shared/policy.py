"""The policy: what each gate must check, typed and validated, with a digest for lineage.

``policy.yaml`` has one section per gate. Thresholds are data with a direction (``min`` or
``max``), never code; every rule carries a ``severity`` (``block`` or ``warn``) and may carry a
``rationale`` that is shown on the scorecard. Unknown keys and wrong types are rejected with the
path of the offending key, because a typo in a policy silently disabling a rule is exactly the
failure a gate exists to prevent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from quality_gates.shared.errors import GateInputError
from quality_gates.shared.policy_approval import ApprovalPolicy
from quality_gates.shared.policy_base import Severity, StrictModel
from quality_gates.shared.policy_explainability import ExplainabilityPolicy
from quality_gates.shared.policy_fairness import FairnessPolicy
from quality_gates.shared.policy_pii import PiiPolicy
from quality_gates.shared.policy_waivers import Waiver

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
)
REGRESSION_METRICS = ("rmse", "mae", "r2", "mape")
# Direction of "better", used by champion comparisons and to sanity-check rules.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae", "mape"})
# Values each metric can take; a threshold outside them makes a rule that can never pass (or
# never fail), which is a typo (a percentage for a fraction, a sign), not a policy.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    **{m: (0.0, 1.0) for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")},
    # Multiclass Brier sums over classes (sklearn 1.9): up to 2.
    "brier": (0.0, 2.0),
    **{m: (0.0, None) for m in ("log_loss", "rmse", "mae", "mape")},
    "r2": (None, 1.0),
}
MetricName = Literal[
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "rmse",
    "mae",
    "r2",
    "mape",
]


class DataSpec(StrictModel):
    """Which columns of the evaluation data play which role.

    Attributes:
        label: Ground-truth column.
        prediction: Column with precomputed predictions (then no model call is needed).
        score: Column with precomputed scores (probability of the positive class).
        features: Columns passed to the model; default: every column not named elsewhere and not
            in ``exclude``.
        exclude: Columns never passed to the model (ids, sensitive attributes, free text).
        positive_label: The positive class of a binary task; default: the larger of the two
            labels (1, True, or the last in sort order).
    """

    label: str | None = None
    prediction: str | None = None
    score: str | None = None
    features: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    positive_label: int | str | bool | None = None


class MetricRule(StrictModel):
    """A threshold on one metric: ``min`` (at least) or ``max`` (at most), exactly one."""

    metric: MetricName
    min: float | None = None
    max: float | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> MetricRule:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"rule on '{self.metric}' needs exactly one of 'min' or 'max'")
        low, high = METRIC_RANGES.get(self.metric, (None, None))
        value = self.threshold
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"[{_num(low, '-inf')}, {_num(high, 'inf')}]"
            raise ValueError(
                f"{'min' if self.min is not None else 'max'} {value:g} of '{self.metric}' is "
                f"outside the metric's range {span}, so the rule could never be met or never "
                "fail; give a threshold inside that range"
            )
        return self

    @property
    def operator(self) -> str:
        """``>=`` for a ``min`` rule, ``<=`` for a ``max`` rule."""
        return ">=" if self.min is not None else "<="

    @property
    def threshold(self) -> float:
        """The bound of the rule."""
        return self.min if self.min is not None else self.max  # type: ignore[return-value]


def _num(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:g}"


class SliceRule(MetricRule):
    """A threshold on one metric for every value of a segment column.

    Slices with fewer than ``min_size`` rows are reported as "insufficient data" with the status
    given by ``on_small`` (never a silent pass).
    """

    column: str
    min_size: int = Field(default=100, ge=1)
    on_small: Literal["warn", "block", "skip"] = "warn"


class ChampionRule(StrictModel):
    """Non-inferiority against the champion on one metric.

    The paired-bootstrap CI of ``candidate - champion`` (sign-adjusted so that positive means the
    candidate is better) must have its lower bound at or above ``-margin``.
    """

    metric: MetricName
    margin: float = Field(default=0.0, ge=0.0)
    severity: Severity = "block"
    rationale: str | None = None


class ChampionSpec(StrictModel):
    """How the candidate is compared with the model holding an alias."""

    alias: str = "production"
    model_name: str | None = None
    rules: list[ChampionRule] = Field(default_factory=list)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=100, le=100_000)
    seed: int = 0
    # No champion yet (the first model of a name) is normal; "skip" records that and passes on.
    if_missing: Literal["skip", "warn", "block"] = "skip"


class PerformancePolicy(StrictModel):
    """Policy section of the performance gate."""

    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    decision_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    rules: list[MetricRule] = Field(default_factory=list)
    slices: list[SliceRule] = Field(default_factory=list)
    champion: ChampionSpec | None = None
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=0, le=100_000)
    seed: int = 0


class GatesPolicy(StrictModel):
    """One section per gate; a gate whose section is absent is not configured."""

    performance: PerformancePolicy | None = None
    fairness: FairnessPolicy | None = None
    explainability: ExplainabilityPolicy | None = None
    pii: PiiPolicy | None = None


class RegistryPolicy(StrictModel):
    """Registry conventions."""

    staging_alias: str = "staging"
    production_alias: str = "production"


class Policy(StrictModel):
    """The whole ``policy.yaml``."""

    version: Literal[1] = 1
    name: str = "default"
    data: DataSpec = Field(default_factory=DataSpec)
    gates: GatesPolicy = Field(default_factory=GatesPolicy)
    registry: RegistryPolicy = Field(default_factory=RegistryPolicy)
    waivers: list[Waiver] = Field(default_factory=list)
    approval: ApprovalPolicy | None = None


def _format_validation_error(exc: ValidationError, source: str) -> str:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{path}'")
        elif err["type"] == "missing":
            problems.append(f"missing key '{path}'")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"'{path}': {msg} (got {err.get('input')!r})")
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"invalid policy {source}: " + "; ".join(problems[:3]) + more + "; fix the policy file"


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, mark: yaml.Mark) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.problem_mark = mark


class _UniqueKeyLoader(yaml.SafeLoader):
    """``safe_load`` that refuses a key given twice in one mapping.

    Plain YAML keeps the last value, so a second ``performance:`` section would silently replace
    the first, with all its rules: a policy must say each thing once.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` merges; an explicit key may override a merged one
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base constructor reports it
                break
            if duplicate:
                raise _DuplicateKeyError(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_policy_yaml(text: str) -> Any:
    """Load policy YAML safely, refusing a key given twice in one mapping.

    Args:
        text: YAML document (empty or blank gives ``None``).

    Returns:
        The loaded document.

    Raises:
        yaml.YAMLError: On a syntax error or a duplicate key (its message names the key).
    """
    if not text or not text.strip():
        return None
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader


def parse_policy(text: str, *, source: str = "<text>") -> Policy:
    """Parse and validate policy YAML text.

    Args:
        text: YAML document.
        source: Where the text came from, for error messages.

    Returns:
        The validated policy.

    Raises:
        GateInputError: On YAML syntax errors, unknown keys or wrong types, naming the key path.
    """
    try:
        data = load_policy_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(exc, _DuplicateKeyError):
            raise GateInputError(
                f"policy {source} gives key '{exc.key}' twice in one section{where}; keep one "
                "(YAML would silently use only the last)"
            ) from None
        raise GateInputError(f"policy {source} is not valid YAML{where}; fix its syntax") from None
    if data is None:
        raise GateInputError(
            f"policy {source} is empty; a policy needs at least one gate section with rules"
        )
    if not isinstance(data, dict):
        raise GateInputError(
            f"policy {source} must be a YAML mapping with keys like 'gates', "
            f"got a {type(data).__name__}"
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise GateInputError(_format_validation_error(exc, source)) from None


def load_policy(path: str | Path) -> tuple[Policy, str]:
    """Read, validate and digest a policy file.

    Args:
        path: Path to ``policy.yaml``.

    Returns:
        The policy and its text (the text is what gets digested and recorded).

    Raises:
        GateInputError: If the file cannot be read or is invalid.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GateInputError(f"policy file {p} does not exist; pass --policy PATH") from None
    except IsADirectoryError:
        raise GateInputError(
            f"policy {p} is a directory; pass the path of the policy YAML file"
        ) from None
    except UnicodeDecodeError as exc:
        raise GateInputError(
            f"policy file {p} is not UTF-8 text (byte {exc.start}); save the policy YAML as UTF-8"
        ) from None
    except OSError as exc:
        raise GateInputError(
            f"policy file {p} cannot be read: {exc.strerror or exc}; check its permissions"
        ) from None
    return parse_policy(text, source=str(p)), text


def policy_digest(text: str) -> str:
    """Return ``sha256:<hex>`` of the policy text exactly as given."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def configured_gates(policy: Policy) -> list[str]:
    """Return the gates whose section is present in the policy, in declaration order."""
    return [name for name in GatesPolicy.model_fields if getattr(policy.gates, name) is not None]
