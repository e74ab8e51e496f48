"""Explainability gate: SHAP attributions as a gate, not a plot nobody reads.

The candidate is explained on a stratified sample of the evaluation data, sized to the policy's
time budget; attributions are mapped back to the model's input columns. The checks: forbidden
(sensitive) features must not be top drivers, no single feature may carry most of the
attribution (target leakage, an ID column), enough features must share it, chosen features must
push the output in the expected direction, the drivers must not have moved far from the
champion's, and the ranking must be stable between two disjoint halves of the sample.

No kfp import. :func:`evaluate_gate` is the registry's entry point (``gate.py``): the run
template loads the inputs and writes the result.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from quality_gates.components.explainability_gate import attribution as attr
from quality_gates.components.explainability_gate import plots
from quality_gates.components.explainability_gate.explainers import ModelExplainer, build_explainer
from quality_gates.components.explainability_gate.policy import (
    AttributionDriftSpec,
    DirectionRule,
    ExplainabilityPolicy,
)
from quality_gates.components.explainability_gate.sampling import (
    RunStats,
    explain_within_budget,
    halves,
    stratified_order,
)
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.context import Evaluation, GateContext
from quality_gates.shared.io.data import EvalData

GATE = "explainability"
SECTION = f"gates.{GATE}"
_BEESWARM_FEATURES = 12
_COMPARE_FEATURES = 15
_METRIC_FEATURES = 10

log = logging.getLogger("quality_gates")


# --------------------------------------------------------------------------------------------
# Checks


def _status(ok: bool, severity: str) -> Status:
    if ok:
        return Status.PASSED
    return Status.FAILED if severity == "block" else Status.WARNED


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f}%"


def explainer_check(explainer: ModelExplainer) -> CheckResult:
    """Report the explainer used; the model-agnostic fallback is a warning (estimated values)."""
    if explainer.fallback_reason is None:
        return CheckResult(
            name="explainer",
            value=explainer.kind,
            status=Status.PASSED,
            severity="warn",
            message=f"exact attributions: {explainer.description}",
        )
    return CheckResult(
        name="explainer",
        value=explainer.kind,
        status=Status.WARNED,
        severity="warn",
        message=f"fell back to the model-agnostic {explainer.description}: "
        f"{explainer.fallback_reason}; attributions are estimates",
    )


def forbidden_check(
    policy: ExplainabilityPolicy,
    *,
    names: list[str],
    imp: np.ndarray,
    share: np.ndarray,
    data_columns: list[str],
) -> CheckResult:
    """Forbidden features must not be among the top-k drivers."""
    rule = policy.forbidden
    assert rule is not None
    k = min(rule.top_k, len(names))
    top = attr.top_k(imp, names, k)
    rank = attr.ranks(imp)
    name = f"forbidden features not in top {rule.top_k}"
    unknown = [f for f in rule.features if f not in names and f not in data_columns]
    base = dict(
        name=name,
        threshold=float(rule.top_k),
        operator=">",
        severity=rule.severity,
        rationale=rule.rationale,
    )
    if unknown:
        return CheckResult(
            **base,
            status=Status.ERROR,
            message=f"forbidden feature(s) {unknown} are neither model inputs nor columns of the "
            f"data; fix {SECTION}.forbidden.features (a misspelt name would check nothing)",
        )
    hits = [f for f in rule.features if f in top]
    used = {f: int(rank[names.index(f)]) for f in rule.features if f in names}
    absent = [f for f in rule.features if f not in names]
    best = min(used.values()) if used else None
    details = {"ranks": used, "not_model_inputs": absent, "top": top}
    if hits:
        shown = ", ".join(f"{f} (rank {used[f]}, {_pct(share[names.index(f)])})" for f in hits)
        return CheckResult(
            **base,
            value=float(best),
            status=_status(False, rule.severity),
            details=details,
            message=f"forbidden feature(s) among the top {k} drivers: {shown}",
        )
    parts = []
    if used:
        parts.append(", ".join(f"{f} at rank {r}" for f, r in used.items()))
    if absent:
        parts.append(f"{', '.join(absent)} not a model input")
    return CheckResult(
        **base,
        value=float(best) if best is not None else None,
        status=Status.PASSED,
        details=details,
        message=f"no forbidden feature in the top {k}: " + "; ".join(parts),
    )


def max_share_check(
    policy: ExplainabilityPolicy, *, names: list[str], share: np.ndarray
) -> CheckResult:
    """No single feature may carry more than the allowed share of attribution."""
    rule = policy.max_share
    assert rule is not None
    i = int(np.argmax(share))
    ok = bool(share[i] <= rule.max + 1e-12)
    verb = "within" if ok else "above"
    hint = "" if ok else " (a sign of target leakage or an ID column among the inputs)"
    return CheckResult(
        name=f"max attribution share <= {rule.max:g}",
        value=float(share[i]),
        threshold=rule.max,
        operator="<=",
        status=_status(ok, rule.severity),
        severity=rule.severity,
        rationale=rule.rationale,
        details={"feature": names[i]},
        message=f"{names[i]} carries {_pct(share[i])} of the total attribution, {verb} the "
        f"{_pct(rule.max)} limit{hint}",
    )


def coverage_check(policy: ExplainabilityPolicy, *, share: np.ndarray) -> CheckResult:
    """At least N features must be needed to reach X% of the attribution."""
    rule = policy.min_features
    assert rule is not None
    n = attr.features_to_reach(share, rule.share)
    ok = n >= rule.min_features
    return CheckResult(
        name=f"features to reach {_pct(rule.share)} >= {rule.min_features}",
        value=float(n),
        threshold=float(rule.min_features),
        operator=">=",
        status=_status(ok, rule.severity),
        severity=rule.severity,
        rationale=rule.rationale,
        message=f"{n} feature(s) carry {_pct(rule.share)} of the attribution "
        f"({'at least' if ok else 'fewer than'} {rule.min_features})",
    )


def stability_check(
    policy: ExplainabilityPolicy, *, imp_a: np.ndarray, imp_b: np.ndarray, n_a: int, n_b: int
) -> tuple[CheckResult, float, float]:
    """Top-k agreement of the rankings of two disjoint halves of the explained rows."""
    spec = policy.stability
    k = min(spec.top_k, len(imp_a))
    agreement = attr.topk_agreement(imp_a, imp_b, k)
    rho = attr.spearman(imp_a, imp_b)
    ok = agreement >= spec.min_agreement - 1e-12
    note = "" if ok else "; explain more rows (raise explain_rows or time_budget_s)"
    check = CheckResult(
        name=f"stability: top-{spec.top_k} agreement >= {spec.min_agreement:g}",
        value=agreement,
        threshold=spec.min_agreement,
        operator=">=",
        status=_status(ok, spec.severity),
        severity=spec.severity,
        rationale=spec.rationale,
        details={"rows_a": n_a, "rows_b": n_b, "rank_correlation": rho},
        message=f"two disjoint samples ({n_a} and {n_b} rows) share {round(agreement * k)} of "
        f"their top {k} features (rank correlation {rho:.3f}){note}",
    )
    return check, agreement, rho


def direction_checks(
    policy: ExplainabilityPolicy,
    *,
    explainer: ModelExplainer,
    phi: np.ndarray,
    rows: pd.DataFrame,
) -> tuple[list[CheckResult], list[list[Any]]]:
    """Each direction rule: Spearman(feature value, its SHAP) has the expected sign."""
    checks: list[CheckResult] = []
    table: list[list[Any]] = []
    names = explainer.features
    for rule in policy.directions:
        name = f"direction {rule.feature}: {rule.effect}"
        base = dict(name=name, severity=rule.severity, rationale=rule.rationale)
        problem = _direction_problem(rule, names=names, phi=phi, rows=rows)
        if problem:
            checks.append(CheckResult(**base, status=Status.ERROR, message=problem))
            continue
        x = rows[rule.feature].to_numpy(dtype=float, na_value=np.nan)
        contribution = phi[:, names.index(rule.feature), 0]
        check, row = _direction_check(rule, base, x=x, contribution=contribution)
        checks.append(check)
        table.append(row)
    return checks, table


def _direction_problem(
    rule: DirectionRule, *, names: list[str], phi: np.ndarray, rows: pd.DataFrame
) -> str | None:
    """Why a direction rule cannot be judged on this model and data, or None when it can."""
    if rule.feature not in names:
        return (
            f"direction rule on '{rule.feature}': not an input of the model; fix "
            f"{SECTION}.directions"
        )
    if phi.shape[2] != 1:
        return (
            f"direction rule on '{rule.feature}': the model is multiclass, directions need "
            "a binary classifier or a regressor; remove the rule"
        )
    if not pd.api.types.is_numeric_dtype(rows[rule.feature].dtype):
        return (
            f"direction rule on '{rule.feature}': the column is not numeric; directions "
            "apply to numeric features only"
        )
    return None


def _direction_check(
    rule: DirectionRule, base: dict[str, Any], *, x: np.ndarray, contribution: np.ndarray
) -> tuple[CheckResult, list[Any]]:
    """The check of one judgeable direction rule and its row of the directions table."""
    rho = attr.spearman(x, contribution)
    increasing = rule.effect == "increasing"
    threshold = rule.min_rank_correlation if increasing else -rule.min_rank_correlation
    operator = ">=" if increasing else "<="
    if not np.any(contribution):
        # A feature the model ignores pushes in no direction: that meets "must not raise"
        # (min_rank_correlation 0) but not a required effect (> 0).
        ok = rule.min_rank_correlation == 0.0
        status = _status(ok, rule.severity)
        check = CheckResult(
            **base,
            value=0.0,
            threshold=threshold,
            operator=operator,
            status=status,
            message=f"{rule.feature} has no effect on the output (all attributions 0); "
            f"expected {rule.effect}",
        )
        return check, [rule.feature, rule.effect, 0.0, status.value]
    if not np.isfinite(rho):
        check = CheckResult(
            **base,
            threshold=threshold,
            operator=operator,
            status=Status.ERROR,
            message=f"direction of '{rule.feature}' is undefined: the feature or its "
            "attribution is constant on the explained rows",
        )
        return check, [rule.feature, rule.effect, None, "error"]
    ok = rho >= threshold if increasing else rho <= threshold
    status = _status(ok, rule.severity)
    check = CheckResult(
        **base,
        value=rho,
        threshold=threshold,
        operator=operator,
        status=status,
        message=f"rank correlation of {rule.feature} with its attribution = {rho:.3f}: "
        f"higher {rule.feature} {'raises' if rho > 0 else 'lowers'} the output, expected "
        f"{rule.effect}",
    )
    return check, [rule.feature, rule.effect, round(rho, 4), status.value]


def drift_check(spec: AttributionDriftSpec, drift: attr.Drift) -> CheckResult:
    """Rank correlation of candidate and champion importances, naming the features that moved."""
    moved = [drift.features[i] for i in drift.moved[: spec.top_moved]]
    shown = ", ".join(
        f"{drift.features[i]} {_pct(drift.champion_share[i])}→{_pct(drift.candidate_share[i])}"
        for i in drift.moved[: min(3, spec.top_moved)]
    )
    base = dict(
        name=f"attribution rank correlation vs champion >= {spec.min_rank_correlation:g}",
        threshold=spec.min_rank_correlation,
        operator=">=",
        severity=spec.severity,
        rationale=spec.rationale,
        details={"moved_most": moved},
    )
    if not np.isfinite(drift.rank_correlation):
        return CheckResult(
            **base,
            status=Status.ERROR,
            message="rank correlation with the champion is undefined (constant importances); "
            "check both models",
        )
    ok = drift.rank_correlation >= spec.min_rank_correlation - 1e-12
    return CheckResult(
        **base,
        value=drift.rank_correlation,
        status=_status(ok, spec.severity),
        message=f"rank correlation of mean |SHAP| with the champion = "
        f"{drift.rank_correlation:.3f}; moved most: {shown}",
    )


def missing_champion_check(spec: AttributionDriftSpec, ref: dict[str, Any]) -> CheckResult:
    """The check recorded when no model holds the champion alias yet."""
    status = {"skip": Status.SKIPPED, "warn": Status.WARNED, "block": Status.FAILED}[
        spec.if_missing
    ]
    return CheckResult(
        name=f"attribution rank correlation vs champion >= {spec.min_rank_correlation:g}",
        threshold=spec.min_rank_correlation,
        operator=">=",
        status=status,
        severity=spec.severity,
        rationale=spec.rationale,
        message=f"no champion: no model '{ref.get('model_name')}' holds alias "
        f"'{ref.get('alias')}' (if_missing: {spec.if_missing})",
    )


# --------------------------------------------------------------------------------------------
# Evidence for the report


def _percentiles(rows: pd.DataFrame, names: list[str]) -> np.ndarray:
    out = np.full((len(rows), len(names)), np.nan)
    for j, name in enumerate(names):
        col = rows[name]
        if pd.api.types.is_numeric_dtype(col.dtype) and col.nunique(dropna=True) > 1:
            out[:, j] = col.rank(pct=True).to_numpy(dtype=float, na_value=np.nan)
    return out


def _images(
    *,
    policy: ExplainabilityPolicy,
    explainer: ModelExplainer,
    phi: np.ndarray,
    rows: pd.DataFrame,
    share: np.ndarray,
    drift: attr.Drift | None,
) -> tuple[list[dict[str, str]], list[str]]:
    names = explainer.features
    ordered = attr.order(share)
    top = [names[i] for i in ordered]
    forbidden = policy.forbidden.features if policy.forbidden else []
    # One signed attribution per row and feature for the summary: the explained output.
    signed = phi.sum(axis=2) if phi.shape[2] > 1 else phi[:, :, 0]
    images: list[dict[str, str]] = []
    problems: list[str] = []

    def add(title: str, draw: Any) -> None:
        try:
            images.append({"title": title, "png_base64": draw()})
        except Exception as exc:  # noqa: BLE001 - a plot must not sink the verdict
            log.debug("plot %s failed", title, exc_info=True)
            problems.append(f"{title}: {type(exc).__name__}")

    shown = top[:40]
    add(
        "Global importance (share of mean |SHAP|)",
        lambda: plots.importance_bar(
            names=shown, shares=[share[names.index(n)] for n in shown], highlight=forbidden
        ),
    )
    bee = top[:_BEESWARM_FEATURES]
    idx = [names.index(n) for n in bee]
    add(
        "Summary: SHAP value per explained row, coloured by feature percentile",
        lambda: plots.beeswarm(
            names=bee,
            phi=signed[:, idx],
            percentiles=_percentiles(rows, bee),
            seed=policy.sampling.seed,
        ),
    )
    for n in top[: policy.dependence_plots]:
        j = names.index(n)
        add(
            f"Dependence: {n}",
            lambda n=n, j=j: plots.dependence(name=n, x=rows[n], phi=signed[:, j]),
        )
    if drift is not None:
        pick = list(
            dict.fromkeys(
                [
                    *[drift.features[i] for i in attr.order(drift.candidate_share)[:10]],
                    *[drift.features[i] for i in attr.order(drift.champion_share)[:10]],
                ]
            )
        )[:_COMPARE_FEATURES]
        pos = [drift.features.index(n) for n in pick]
        add(
            "Candidate vs champion attribution shares",
            lambda: plots.champion_comparison(
                names=pick,
                candidate=drift.candidate_share[pos],
                champion=drift.champion_share[pos],
            ),
        )
    return images, problems


def _cell(v: Any) -> Any:
    if v is None:
        return "-"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return v


def _importance_table(
    names: list[str], imp: np.ndarray, share: np.ndarray, imp_a: np.ndarray, imp_b: np.ndarray
) -> dict[str, Any]:
    rank = attr.ranks(imp)
    ra, rb = attr.ranks(imp_a), attr.ranks(imp_b)
    cum = 0.0
    rows = []
    for i in attr.order(imp):
        cum += float(share[i])
        rows.append(
            [
                int(rank[i]),
                names[i],
                float(imp[i]),
                round(float(share[i]), 4),
                round(cum, 4),
                int(ra[i]),
                int(rb[i]),
            ]
        )
    return {
        "title": "Global importance (candidate)",
        "note": "mean |SHAP| per input column (one-hot parts summed); ranks in the two disjoint "
        "halves used for the stability figure",
        "columns": [
            "rank",
            "feature",
            "mean |SHAP|",
            "share",
            "cumulative share",
            "rank A",
            "rank B",
        ],
        "rows": rows,
    }


def _drift_table(drift: attr.Drift, cand_names: list[str], champ_names: list[str]) -> dict:
    rc = attr.ranks(drift.candidate_share)
    rh = attr.ranks(drift.champion_share)
    rows = []
    for i in drift.moved:
        f = drift.features[i]
        rows.append(
            [
                f,
                round(float(drift.candidate_share[i]), 4),
                round(float(drift.champion_share[i]), 4),
                round(float(drift.candidate_share[i] - drift.champion_share[i]), 4),
                int(rc[i]) if f in cand_names else "not an input",
                int(rh[i]) if f in champ_names else "not an input",
            ]
        )
    return {
        "title": "Champion comparison (features that moved most first)",
        "note": "shares of mean |SHAP| of each model on the same explained rows",
        "columns": [
            "feature",
            "candidate share",
            "champion share",
            "change",
            "candidate rank",
            "champion rank",
        ],
        "rows": rows,
    }


# --------------------------------------------------------------------------------------------
# Running


def _model_features(loaded: Any, data: EvalData, *, what: str) -> list[str]:
    names = loaded.feature_names
    if names:
        missing = [n for n in names if n not in data.frame.columns]
        if missing:
            shown = ", ".join(missing[:10]) + (
                f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
            )
            raise GateInputError(
                f"evaluation data lacks {len(missing)} of the {len(names)} feature columns the "
                f"{what} {loaded.uri} was trained on: {shown}; add them to the data"
            )
        return list(names)
    return list(data.features)


def _plan_rows(n: int, policy: ExplainabilityPolicy, source: str) -> tuple[int, int]:
    s = policy.sampling
    n_bg = min(s.background_rows, max(1, n // 4))
    pool = min(s.explain_rows, n - n_bg)
    if pool < s.min_explain_rows:
        raise GateInputError(
            f"{source} has {n} rows: too few to explain min_explain_rows={s.min_explain_rows} "
            f"rows beside {n_bg} background rows; evaluate on more data or lower "
            f"{SECTION}.sampling.min_explain_rows"
        )
    return pool, n_bg


def _champion_explainer(ctx: GateContext, data: EvalData, common: dict):
    """The champion and its explainer, or ``(None, None, ref)`` when no version holds the alias."""
    champion, ref = ctx.champion()
    if champion is None:
        return None, ref
    features = _model_features(champion, data, what="champion")
    ctx.predictions(champion, data)
    return (
        build_explainer(
            model=champion.model,
            flavor=champion.flavor,
            features=features,
            uri=champion.uri,
            **common,
        ),
        ref,
    )


def _sample(ctx: GateContext, data: EvalData) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The rows to explain and the background rows, stratified by the label when asked."""
    s = ctx.section.sampling
    frame = data.frame
    n_pool, n_bg = _plan_rows(len(frame), ctx.section, data.source)
    labels = frame[data.label].to_numpy() if data.label else None
    order = stratified_order(labels, n_rows=len(frame), seed=s.seed, stratify=s.stratify)
    rows = frame.iloc[order[:n_pool]].reset_index(drop=True)
    background = frame.iloc[order[n_pool : n_pool + n_bg]].reset_index(drop=True)
    return rows, background, n_pool


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Explain the candidate with SHAP and judge its attributions (the registry's entry point).

    Args:
        ctx: The run's context: policy section, data, model, champion.

    Returns:
        Explainer, stability, leakage, dominance, coverage, direction and drift checks.
    """
    policy: ExplainabilityPolicy = ctx.section
    data = ctx.data(require_label=False)
    loaded = ctx.model()
    features = _model_features(loaded, data, what="model")
    rows, background, n_pool = _sample(ctx, data)
    # The whole table is predicted once (shared with the other gates of the process): a bad cell
    # (inf, a string in a number column) anywhere in the data fails here, by name, as it does in
    # every gate that scores the model, not only when the sample happens to draw it.
    ctx.predictions(loaded, data)
    s = policy.sampling
    common = dict(
        sample=rows,
        background=background,
        positive_label=ctx.policy.data.positive_label,
        permutations=s.permutations,
        seed=s.seed,
    )
    explainer = build_explainer(
        model=loaded.model, flavor=loaded.flavor, features=features, uri=loaded.uri, **common
    )
    champ_explainer, champion_ref = None, {}
    if policy.champion is not None:
        champ_explainer, champion_ref = _champion_explainer(ctx, data, common)
    explainers = [explainer] + ([champ_explainer] if champ_explainer is not None else [])
    # Plots and the report need a moment after explaining: keep it out of the budget.
    reserve = min(max(1.5, 0.1 * s.time_budget_s), 10.0)
    phis, stats = explain_within_budget(
        explainers,
        rows,
        deadline=ctx.clock + s.time_budget_s - reserve,
        min_rows=s.min_explain_rows,
        n_jobs=s.n_jobs,
        budget_s=s.time_budget_s,
    )
    return _evaluate(
        policy=policy,
        explainer=explainer,
        phi=phis[0],
        rows=rows.iloc[: stats.rows],
        data=data,
        champ_explainer=champ_explainer,
        champ_phi=phis[1] if champ_explainer is not None else None,
        champion_ref=champion_ref,
        stats=stats,
        n_bg=len(background),
        n_pool=n_pool,
        clock=ctx.clock,
        model_uri=ctx.inputs.model_uri or "",
        data_uri=ctx.inputs.data_uri,
    )


def _evaluate(
    *,
    policy: ExplainabilityPolicy,
    explainer: ModelExplainer,
    phi: np.ndarray,
    rows: pd.DataFrame,
    data: EvalData,
    champ_explainer: ModelExplainer | None,
    champ_phi: np.ndarray | None,
    champion_ref: dict[str, Any],
    stats: RunStats,
    n_bg: int,
    n_pool: int,
    clock: float,
    model_uri: str,
    data_uri: str,
) -> Evaluation:
    a = _attributions(policy, explainer=explainer, phi=phi, rows=rows, data=data)
    checks = [explainer_check(explainer)]
    stab, agreement, stab_rho = stability_check(
        policy, imp_a=a.imp_a, imp_b=a.imp_b, n_a=a.n_a, n_b=a.n_b
    )
    checks.append(stab)
    checks += _attribution_checks(policy, a, data=data)
    dir_checks, dir_table = direction_checks(policy, explainer=explainer, phi=phi, rows=rows)
    checks += dir_checks
    metrics = _run_metrics(policy, a, stats=stats, n_bg=n_bg, agreement=agreement, rho=stab_rho)

    tables = [_importance_table(a.names, a.imp, a.share, a.imp_a, a.imp_b)]
    drift = None
    champion_details: dict[str, Any] | None = None
    if policy.champion is not None:
        champion_check, drift, champion_details = _champion_drift(
            policy.champion, a, explainer=champ_explainer, phi=champ_phi, ref=champion_ref
        )
        checks.append(champion_check)
        if drift is not None:
            if np.isfinite(drift.rank_correlation):
                metrics["champion_rank_correlation"] = drift.rank_correlation
            tables.append(_drift_table(drift, a.names, champ_explainer.features))
    if dir_table:
        tables.append(_directions_table(dir_table))
    images, plot_problems = _images(
        policy=policy, explainer=explainer, phi=phi, rows=rows, share=a.share, drift=drift
    )
    # After the plots: gate_seconds is the gate's whole run time, plotting included.
    sampling = _sampling_details(
        policy, a, data=data, stats=stats, n_pool=n_pool, n_bg=n_bg, clock=clock
    )
    tables.insert(0, _sampling_table(explainer, sampling))
    details = _report_details(
        explainer,
        a,
        sampling=sampling,
        tables=tables,
        images=images,
        model_uri=model_uri,
        data_uri=data_uri,
    )
    if champion_details is not None:
        details["champion_comparison"] = champion_details
    if plot_problems:
        details["plot_problems"] = plot_problems
    return Evaluation(checks=checks, metrics=metrics, details=details)


class _Attributions(NamedTuple):
    """Importances of the explained rows, overall and of the two disjoint halves."""

    names: list[str]
    imp: np.ndarray
    share: np.ndarray
    imp_a: np.ndarray
    imp_b: np.ndarray
    n_a: int
    n_b: int


def _attributions(
    policy: ExplainabilityPolicy,
    *,
    explainer: ModelExplainer,
    phi: np.ndarray,
    rows: pd.DataFrame,
    data: EvalData,
) -> _Attributions:
    imp = attr.importance(phi)
    labels = rows[data.label].to_numpy() if data.label and policy.sampling.stratify else None
    pos_a, pos_b = halves(labels, len(rows))
    return _Attributions(
        names=explainer.features,
        imp=imp,
        share=attr.shares(imp),
        imp_a=attr.importance(phi[pos_a]),
        imp_b=attr.importance(phi[pos_b]),
        n_a=len(pos_a),
        n_b=len(pos_b),
    )


def _attribution_checks(
    policy: ExplainabilityPolicy, a: _Attributions, *, data: EvalData
) -> list[CheckResult]:
    """The checks the policy asks for on the attribution shares: leakage, dominance, coverage."""
    checks = []
    if policy.forbidden is not None:
        checks.append(
            forbidden_check(
                policy,
                names=a.names,
                imp=a.imp,
                share=a.share,
                data_columns=[str(c) for c in data.frame.columns],
            )
        )
    if policy.max_share is not None:
        checks.append(max_share_check(policy, names=a.names, share=a.share))
    if policy.min_features is not None:
        checks.append(coverage_check(policy, share=a.share))
    return checks


def _champion_drift(
    spec: AttributionDriftSpec,
    a: _Attributions,
    *,
    explainer: ModelExplainer | None,
    phi: np.ndarray | None,
    ref: dict[str, Any],
) -> tuple[CheckResult, attr.Drift | None, dict[str, Any]]:
    """The drift check against the champion (or its absence), the drift and the report entry."""
    drift = None
    if explainer is None or phi is None:
        check = missing_champion_check(spec, ref)
    else:
        drift = attr.drift(
            candidate_features=a.names,
            candidate_imp=a.imp,
            champion_features=explainer.features,
            champion_imp=attr.importance(phi),
        )
        check = drift_check(spec, drift)
    details = {
        **{k: v for k, v in ref.items() if k != "digest"},
        "explainer": explainer.description if explainer else None,
    }
    return check, drift, details


def _run_metrics(
    policy: ExplainabilityPolicy,
    a: _Attributions,
    *,
    stats: RunStats,
    n_bg: int,
    agreement: float,
    rho: float,
) -> dict[str, float]:
    metrics: dict[str, float] = {
        "explained_rows": float(stats.rows),
        "background_rows": float(n_bg),
        "explain_seconds": stats.seconds,
        "explain_rows_per_second": stats.rows / stats.seconds if stats.seconds > 0 else 0.0,
        "stability_topk_agreement": agreement,
        "stability_rank_correlation": rho,
        "max_attribution_share": float(a.share.max()),
    }
    if policy.min_features is not None:
        metrics["features_to_reach_share"] = float(
            attr.features_to_reach(a.share, policy.min_features.share)
        )
    for i in attr.order(a.imp)[:_METRIC_FEATURES]:
        metrics[f"attribution_share.{a.names[i]}"] = float(a.share[i])
    return metrics


def _directions_table(dir_table: list[list[Any]]) -> dict[str, Any]:
    return {
        "title": "Expected directions",
        "note": "Spearman correlation of the feature's value with its SHAP value",
        "columns": ["feature", "expected", "rank correlation", "status"],
        "rows": dir_table,
    }


def _sampling_details(
    policy: ExplainabilityPolicy,
    a: _Attributions,
    *,
    data: EvalData,
    stats: RunStats,
    n_pool: int,
    n_bg: int,
    clock: float,
) -> dict[str, Any]:
    return {
        "explained_rows": stats.rows,
        "candidate_rows": n_pool,
        "background_rows": n_bg,
        "stratified_by": data.label if (data.label and policy.sampling.stratify) else None,
        "halves": [int(a.n_a), int(a.n_b)],
        "time_budget_s": policy.sampling.time_budget_s,
        "explain_seconds": round(stats.seconds, 3),
        "pilot_rows_per_second": round(stats.pilot_rows_per_second, 3),
        "workers": stats.workers,
        "rounds": stats.rounds,
        "stopped_by": stats.stopped_by,
        "gate_seconds": round(time.monotonic() - clock, 3),
    }


def _sampling_table(explainer: ModelExplainer, sampling: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "Sampling plan",
        "note": f"explainer: {explainer.description}; attributions in {explainer.units}"
        + (f"; {explainer.mapping_note}" if explainer.mapping_note else ""),
        "columns": ["item", "value"],
        "rows": [[k, _cell(v)] for k, v in sampling.items()],
    }


def _report_details(
    explainer: ModelExplainer,
    a: _Attributions,
    *,
    sampling: dict[str, Any],
    tables: list[dict],
    images: list,
    model_uri: str,
    data_uri: str,
) -> dict[str, Any]:
    return {
        "explainer": {
            "kind": explainer.kind,
            "description": explainer.description,
            "units": explainer.units,
            "explained_output": explainer.target.outputs,
            "fallback_reason": explainer.fallback_reason,
            "mapping_note": explainer.mapping_note,
        },
        "sampling": sampling,
        "importance": {a.names[i]: float(a.share[i]) for i in attr.order(a.imp)},
        "tables": tables,
        "images": images,
        "model_uri": model_uri,
        "data_uri": data_uri,
    }
