"""Shadow gate: the candidate's decisions on the traffic production served, against production's.

The candidate scores every logged request (the request log: a table, or KServe payload-logger
events joined request to response by id) and each of its decisions is compared with the one
production returned. The share of requests whose decision it would change (the **flip rate**),
overall and in every segment, and the share of answered requests on which it reproduces
production's decision (**agreement**) are proportions judged on their exact Clopper-Pearson
interval through the rule engine; the segments of a column are one family under Holm or
Benjamini-Hochberg. The candidate's score distribution is compared with production's with the
drift gate's distances (PSI on production's deciles, normalised Wasserstein, KS) and its
bootstrap interval. Rows the candidate cannot score are counted and bounded; requests without
production's answer are counted and reported.

Pure functions over numpy/pandas; no kfp import. :func:`evaluate_gate` is the registry's entry
point (``gate.py``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.components.drift_gate.columns import numeric_drift
from quality_gates.components.shadow_gate import logs, scoring
from quality_gates.components.shadow_gate.policy import (
    RateRule,
    SegmentFlipRule,
    ShadowPolicy,
)
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.context import Evaluation, GateContext
from quality_gates.shared.gates.decisions import (
    Evidence,
    Verdict,
    check_fields,
    describe,
    from_binomial,
    judge,
    judge_family,
)
from quality_gates.shared.io.data import EvalData

_METRIC_NAME = re.compile(r"[^0-9A-Za-z_\-.]+")


def _rate_check(
    rule: RateRule,
    ev: Evidence,
    verdict: Verdict,
    *,
    name: str,
    what: str,
    policy: ShadowPolicy,
    family: str,
    details: dict[str, Any] | None = None,
) -> CheckResult:
    """A proportion rule's check from its evidence and the rule engine's verdict."""
    message = describe(
        verdict,
        ev,
        what=what,
        threshold=rule.threshold,
        operator=rule.operator,
        confidence=policy.confidence,
        on_inconclusive=policy.inconclusive_for(rule),
        rows="requests",
    )
    return CheckResult(
        name=name,
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        rationale=rule.rationale,
        family=family,
        message=message,
        details={**(details or {}), **verdict.details(), "method": ev.method, "n": ev.n},
        **check_fields(verdict, ev),
    )


def _single(
    rule: RateRule, successes: int, trials: int, *, name: str, what: str, policy: ShadowPolicy
) -> CheckResult:
    ev = from_binomial(successes, trials, confidence=policy.confidence)
    verdict = judge(
        ev,
        threshold=rule.threshold,
        operator=rule.operator,
        judge_on="interval",
        severity=rule.severity,
        on_inconclusive=policy.inconclusive_for(rule),
    )
    what = f"{what} ({successes} of {trials} requests)"
    return _rate_check(rule, ev, verdict, name=name, what=what, policy=policy, family="overall")


def _segment_table(column: pd.Series, flips: np.ndarray, agree: np.ndarray, scored: np.ndarray):
    """Counts per segment value, by one factorize and bincounts over the whole column."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    k = len(uniques)
    labels = ["<missing>" if pd.isna(v) else str(v) for v in uniques]
    return (
        labels,
        np.bincount(codes, minlength=k),
        np.bincount(codes, weights=scored, minlength=k).astype(np.int64),
        np.bincount(codes, weights=flips, minlength=k).astype(np.int64),
        np.bincount(codes, weights=agree, minlength=k).astype(np.int64),
    )


def _small_check(rule: SegmentFlipRule, name: str, what: str, n: int, ev: Evidence) -> CheckResult:
    status = {"warn": Status.WARNED, "block": Status.FAILED, "skip": Status.SKIPPED}[rule.on_small]
    return CheckResult(
        name=name,
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        status=status,
        rationale=rule.rationale,
        family="segments",
        value=ev.estimate if ev.n else None,
        ci_low=ev.low,
        ci_high=ev.high,
        message=f"insufficient data: {what} has {n} scored requests, fewer than min_size "
        f"{rule.min_size} (on_small: {rule.on_small})",
        details={"n": n},
    )


def segment_checks(
    policy: ShadowPolicy,
    frame: pd.DataFrame,
    *,
    flips: np.ndarray,
    agree: np.ndarray,
    scored: np.ndarray,
) -> tuple[list[CheckResult], list[dict[str, Any]]]:
    """The flip-rate rule in every segment of every segment column, each column a family.

    Args:
        policy: The shadow section (its ``segment_flip_rate`` may be None: rows only).
        frame: The answered requests (segment columns).
        flips: Per request: the candidate's decision differs from production's.
        agree: Per request: the candidate returned production's decision.
        scored: Per request: the candidate scored it.

    Returns:
        The checks (none without a segment rule) and one report row per segment.
    """
    rule, checks, rows = policy.segment_flip_rate, [], []
    for column in policy.columns.segments:
        labels, n_all, n, k, a = _segment_table(frame[column], flips, agree, scored)
        evidence = [
            from_binomial(int(f), int(t), confidence=policy.confidence)
            for f, t in zip(k, n, strict=True)
        ]
        found = _segment_family(policy, rule, column, labels, n, evidence) if rule else {}
        for i, label in enumerate(labels):
            check = found.get(i)
            if check is not None:
                checks.append(check)
            ev = evidence[i]
            rows.append(
                dict(
                    column=column,
                    segment=label,
                    requests=int(n_all[i]),
                    scored=int(n[i]),
                    flips=int(k[i]),
                    flip_rate=ev.estimate if n[i] else None,
                    ci_low=ev.low,
                    ci_high=ev.high,
                    agreement=float(a[i] / n_all[i]) if n_all[i] else None,
                    decision=check.decision if check else None,
                    status=check.status.value if check else None,
                )
            )
    return checks, rows


def _segment_family(
    policy: ShadowPolicy,
    rule: SegmentFlipRule,
    column: str,
    labels: list[str],
    n: np.ndarray,
    evidence: list[Evidence],
) -> dict[int, CheckResult]:
    """Judge the segments of one column as a family; small ones by ``on_small``."""
    big = [i for i in range(len(labels)) if n[i] >= rule.min_size]
    verdicts = judge_family(
        [evidence[i] for i in big],
        thresholds=[rule.threshold] * len(big),
        operator="<=",
        judge_on="interval",
        severity=rule.severity,
        on_inconclusive=policy.inconclusive_for(rule),
        confidence=policy.confidence,
        method=policy.multiplicity,
    )
    family = {"multiplicity": policy.multiplicity, "family_size": len(big), "column": column}
    out: dict[int, CheckResult] = {}
    for i, verdict in zip(big, verdicts, strict=True):
        out[i] = _rate_check(
            rule,
            evidence[i],
            verdict,
            name=f"flip rate, segment {column}={labels[i]} <= {rule.threshold:g}",
            what=f"flip rate of segment {column}={labels[i]} ({int(n[i])} requests)",
            policy=policy,
            family="segments",
            details={**family, "segment": labels[i]},
        )
    for i in sorted(set(range(len(labels))) - set(big)):
        name = f"flip rate, segment {column}={labels[i]} <= {rule.threshold:g}"
        what = f"segment {column}={labels[i]}"
        ev = evidence[i]
        alone = judge(ev, threshold=rule.threshold, operator="<=", judge_on="interval",
                      severity=rule.severity, on_inconclusive="block")  # fmt: skip
        if alone.decision == "fail":
            # A handful of requests that already show the bound broken are not "too few".
            out[i] = _rate_check(rule, ev, alone, name=name, what=f"flip rate of {what}",
                                 policy=policy, family="segments")  # fmt: skip
        else:
            out[i] = _small_check(rule, name, what, int(n[i]), ev)
    return out


def score_shift_check(
    policy: ShadowPolicy, production: np.ndarray | None, candidate: np.ndarray | None
) -> tuple[CheckResult, dict[str, float]]:
    """The candidate's score distribution against production's (the drift gate's distances).

    Args:
        policy: The shadow section (its ``score_shift`` rule is set).
        production: Production's scores on the requests both scored, or None.
        candidate: The candidate's scores on the same requests, or None.

    Returns:
        The check and every distance measured.
    """
    rule = policy.score_shift
    name = f"score shift: {rule.metric} <= {rule.max:g}"
    base = dict(name=name, threshold=rule.max, operator="<=", severity=rule.severity,
                rationale=rule.rationale, family="scores")  # fmt: skip
    missing = (
        "the log has no production score (set columns.score)" if production is None
        else "the candidate has no probabilities (predict_proba)" if candidate is None
        else None
    )  # fmt: skip
    if missing:
        return CheckResult(**base, status=Status.ERROR, message=f"score shift: {missing}"), {}
    drift = numeric_drift(
        "score",
        pd.Series(production),
        pd.Series(candidate),
        metric=rule.metric,
        resamples=policy.n_resamples,
        confidence=policy.confidence,
        rng=np.random.default_rng(policy.seed),
    )
    stats = {k: float(v) for k, v in drift.statistics.items() if np.isfinite(v)}
    if drift.evidence is None:
        message = f"score shift cannot be measured: {drift.problem}"
        return CheckResult(**base, status=Status.ERROR, message=message), stats
    ev = drift.evidence
    # The basic bootstrap removes a distance's small-sample bias: judge on the interval's side.
    if ev.low is not None and ev.high is not None:
        ev = dataclasses.replace(ev, estimate=min(max(ev.estimate, ev.low), ev.high))
    on_inc = policy.inconclusive_for(rule)
    verdict = judge(ev, threshold=rule.max, operator="<=", judge_on="interval",
                    severity=rule.severity, on_inconclusive=on_inc)  # fmt: skip
    message = describe(verdict, ev, what=f"{rule.metric} of candidate vs production scores",
                       threshold=rule.max, operator="<=", confidence=policy.confidence,
                       on_inconclusive=on_inc)  # fmt: skip
    check = CheckResult(**base, message=message, details={**verdict.details(), **stats},
                        **check_fields(verdict, ev))  # fmt: skip
    return check, stats


def production_summary(log: logs.RequestLog) -> dict[str, float]:
    """Production's latency percentiles and error rate, from the log's optional columns.

    Args:
        log: The request log.

    Returns:
        ``production_latency_p50_ms`` / ``p95`` / ``p99`` / ``mean`` and
        ``production_error_rate`` where the columns are present.
    """
    out: dict[str, float] = {}
    if log.latency_ms is not None:
        latency = pd.to_numeric(log.frame[log.latency_ms], errors="coerce").to_numpy(float)
        latency = latency[np.isfinite(latency)]
        if latency.size:
            for q in (50, 95, 99):
                out[f"production_latency_p{q}_ms"] = float(np.percentile(latency, q))
            out["production_latency_mean_ms"] = float(latency.mean())
    if log.error is not None:
        col = log.frame[log.error]
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            flagged = col.fillna(0).astype(float).to_numpy() != 0
        else:
            text = col.astype("string").str.strip().str.lower()
            flagged = (col.notna() & ~text.isin(["", "0", "false", "none", "null"])).to_numpy()
        out["production_error_rate"] = float(flagged.mean())
    return out


def _read_log(ctx: GateContext, policy: ShadowPolicy, loaded, pos: int) -> logs.RequestLog:
    uri = ctx.inputs.request_log_uri
    if not uri:
        raise GateInputError(
            "the shadow gate needs a request log: --request-log (or `quality-gates shadow "
            "--log`), in the pipeline request_log_uri or the request_log input; none was given"
        )
    if logs.is_event_log(uri):
        raw, digest = logs.read_bytes(uri)
        ctx.digests["request_log"] = digest
        return logs.event_log(raw, uri=uri, spec=policy.kserve, positive=pos,
                              features=loaded.feature_names or policy.columns.features)  # fmt: skip
    return logs.table_log(ctx.table(uri, role="request_log"), policy.columns, uri=uri)


def _default_features(ctx: GateContext, log: logs.RequestLog) -> list[str]:
    cols = ctx.section.columns
    if cols.features is not None:
        return list(cols.features)
    taken = {log.request_id, log.score, log.decision, log.latency_ms, log.error}
    taken |= set(ctx.policy.data.exclude) | {ctx.policy.data.label}
    return [c for c in log.frame.columns if c not in taken]


def _answered(ctx: GateContext, log: logs.RequestLog) -> pd.DataFrame:
    answered = log.frame.loc[log.answered].reset_index(drop=True)
    n = len(answered)
    if n == 0:
        raise GateInputError(
            f"no request of {log.source} has production's answer ({len(log.frame)} logged "
            "requests); log the responses too"
        )
    if n < ctx.section.min_requests:
        raise GateInputError(
            f"request log {log.source} holds {n} answered requests, fewer than "
            f"gates.shadow.min_requests ({ctx.section.min_requests}): no evidence; log more "
            "traffic"
        )
    return answered


def _production(log: logs.RequestLog, frame: pd.DataFrame, classes, pos: int, thr: float):
    """Production's decision (positive?) and score per answered request."""
    score = None
    if log.score is not None:
        raw = frame[log.score]
        score = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = (raw.notna().to_numpy() & ~np.isfinite(score)) | (score < 0) | (score > 1)
        if bad.any():
            raise GateInputError(
                f"{int(bad.sum())} production score(s) in column '{log.score}' of {log.source} "
                f"are not probabilities in [0, 1] (first at row {int(np.argmax(bad))}, 0-based); "
                "log production's positive-class probability"
            )
    if log.decision is not None:
        positive = scoring.production_positive(frame[log.decision], classes=classes, pos=pos,
                                               column=log.decision, source=log.source)  # fmt: skip
    else:
        positive = score >= thr  # type: ignore[operator]
    return positive, score


def _metric_key(*parts: str) -> str:
    return ".".join(_METRIC_NAME.sub("_", p) for p in parts)


def _rule_checks(policy: ShadowPolicy, c: dict[str, int]) -> list[CheckResult]:
    """The whole-log proportion rules from the counts."""
    out = []
    specs = (
        ("max_flip_rate", "flip rate", c["flips"], c["scored"]),
        ("min_agreement", "agreement", c["agree"], c["answered"]),
        ("max_candidate_error_rate", "candidate error rate", c["failed"], c["answered"]),
        ("max_unanswered_rate", "requests without production's answer", c["unanswered"],
         c["requests"]),
    )  # fmt: skip
    for key, what, x, n in specs:
        rule = getattr(policy, key)
        if rule is not None:
            name = f"{what} {rule.operator} {rule.threshold:g}"
            out.append(_single(rule, x, n, name=name, what=what, policy=policy))
    return out


def _tables(rows: list[dict[str, Any]], counts: dict[str, int], join: dict[str, int]) -> list:
    def r(x):
        return None if x is None else round(float(x), 5)

    return [
        {
            "title": "Flip rate per segment",
            "columns": [
                "column",
                "segment",
                "requests",
                "scored",
                "flips",
                "flip rate",
                "CI low",
                "CI high",
                "agreement",
                "decision",
                "status",
            ],  # fmt: skip
            "rows": [
                [
                    s["column"],
                    s["segment"],
                    s["requests"],
                    s["scored"],
                    s["flips"],
                    r(s["flip_rate"]),
                    r(s["ci_low"]),
                    r(s["ci_high"]),
                    r(s["agreement"]),
                    s["decision"] or "",
                    s["status"] or "reported",
                ]
                for s in rows
            ],  # fmt: skip
        },
        {
            "title": "Overall",
            "columns": ["count", "value"],
            "rows": [[k, v] for k, v in counts.items()],
        },  # fmt: skip
        {
            "title": "Join of requests and responses",
            "columns": ["count", "value"],
            "rows": [[k, v] for k, v in join.items()],
        },  # fmt: skip
    ]


def _compare(ctx, log, loaded, pos) -> tuple[pd.DataFrame, dict[str, np.ndarray], scoring.Scored]:
    """Score the answered requests and set the candidate's answers beside production's."""
    frame = _answered(ctx, log)
    features = scoring.feature_names(loaded, frame, _default_features(ctx, log))
    data = EvalData(frame, None, None, None, features, f"{log_digest(ctx)}#shadow", log.source)
    classes = getattr(loaded.model, "classes_", None)
    classes = list(classes) if classes is not None else None
    prod_pos, prod_score = _production(log, frame, classes, pos, ctx.section.decision_threshold)
    scored = scoring.score_candidate(ctx, loaded, data, pos=pos)
    ok = ~scored.failed
    arrays = {
        "ok": ok,
        "flips": ok & (scored.positive != prod_pos),
        "agree": ok & (scored.positive == prod_pos),
        "prod_score": prod_score,
    }
    return frame, arrays, scored


def log_digest(ctx: GateContext) -> str:
    """The digest recorded for the request log (empty before it is read)."""
    return ctx.digests.get("request_log", "")


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Compare the candidate's decisions with production's on the logged traffic (entry point).

    Args:
        ctx: The run's context: the request log, the candidate and ``gates.shadow``.

    Returns:
        Checks (overall, segments, score shift, errors), metrics and the report's tables.

    Raises:
        GateInputError: The log is missing or broken, or does not fit the model.
    """
    policy: ShadowPolicy = ctx.section
    loaded = ctx.model()
    classes = getattr(loaded.model, "classes_", None)
    pos = scoring.positive_index(None if classes is None else list(classes),
                                 ctx.policy.data.positive_label)  # fmt: skip
    log = _read_log(ctx, policy, loaded, pos)
    frame, a, scored = _compare(ctx, log, loaded, pos)
    counts = dict(
        requests=len(log.frame), answered=len(frame), unanswered=len(log.frame) - len(frame),
        scored=int(a["ok"].sum()), failed=int(scored.failed.sum()), flips=int(a["flips"].sum()),
        agree=int(a["agree"].sum()),
    )  # fmt: skip
    checks = _rule_checks(policy, counts)
    seg_checks, seg_rows = segment_checks(policy, frame, flips=a["flips"], agree=a["agree"],
                                          scored=a["ok"])  # fmt: skip
    checks += seg_checks
    metrics = _metrics(counts, seg_rows, production_summary(log))
    if policy.score_shift is not None:
        both = a["ok"] & (np.isfinite(a["prod_score"]) if a["prod_score"] is not None else False)
        prod = None if a["prod_score"] is None else a["prod_score"][both]
        cand = None if scored.score is None else scored.score[both]
        check, shift = score_shift_check(policy, prod, cand)
        checks.append(check)
        metrics.update({f"score_shift_{k}": v for k, v in shift.items()})
    details = {
        "request_log_uri": log.source, "log_form": log.form, "join": log.join, "counts": counts,
        "segments": seg_rows, "candidate_scoring": {"chunked": scored.chunked,
                                                    "failed_rows_exact": scored.exact},
        "tables": _tables(seg_rows, counts, log.join), "model_uri": ctx.inputs.model_uri or "",
    }  # fmt: skip
    return Evaluation(checks=checks, metrics=metrics, details=details)


def _metrics(counts: dict[str, int], rows: list[dict[str, Any]], prod: dict[str, float]):
    def share(x: int, n: int) -> float:
        return float(x / n) if n else float("nan")

    metrics: dict[str, float] = {
        "n_requests": counts["requests"],
        "n_answered": counts["answered"],
        "unmatched": counts["unanswered"],
        "flip_rate": share(counts["flips"], counts["scored"]),
        "agreement": share(counts["agree"], counts["answered"]),
        "candidate_errors": counts["failed"],
        "candidate_error_rate": share(counts["failed"], counts["answered"]),
        **prod,
    }
    for row in rows:
        if row["flip_rate"] is not None:
            metrics[_metric_key("flip_rate", row["column"], row["segment"])] = row["flip_rate"]
    return {k: float(v) for k, v in metrics.items() if np.isfinite(v)}
