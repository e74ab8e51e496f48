"""Operational gate: the candidate (and the champion) served as KServe serves them, measured.

Each model gets its own MLServer process on 127.0.0.1 (``server.py``); the gate times the
model's load request, warms both servers up, then measures single-row and batch requests of the
evaluation rows interleaved, round by round (``measure.py``), and judges absolute and relative
rules on the per-round numbers (``rules.py``). The servers are always stopped. Pure over the
loaded inputs, no kfp import; :func:`evaluate_gate` is the registry's entry point.
"""

from __future__ import annotations

import os
from typing import Any

from quality_gates.components.operational_gate.measure import Payloads, measure, payloads
from quality_gates.components.operational_gate.policy import OperationalPolicy
from quality_gates.components.operational_gate.rules import (
    ModelNumbers,
    absolute_check,
    noise,
    numbers,
    relative_check,
)
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.context import Evaluation, GateContext
from quality_gates.shared.io.models import LoadedModel, model_input
from quality_gates.shared.serving.mlserver import ModelServer, artifact_mb

LATENCY_METHOD = (
    "client-side wall clock (time.perf_counter) per V2 inference request on a persistent "
    "keep-alive connection (requests.Session), after warm-up; candidate and champion "
    "requests alternate one by one in every round"
)


def available_cpus() -> float:
    """CPUs this process may use: the cgroup's CPU quota when set, else the affinity mask."""
    count = float(len(os.sched_getaffinity(0)))
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()  # noqa: SIM115
        if quota != "max":
            return min(count, float(quota) / float(period))
    except (OSError, ValueError):
        pass
    return count


def _serve_and_measure(
    models: dict[str, LoadedModel], load: Payloads, policy: OperationalPolicy
) -> dict[str, ModelNumbers]:
    """Start one server per model, load, measure interleaved, always stop them."""
    plan = policy.measurement
    servers = [
        ModelServer(
            name=role,
            local_path=model.local_path,
            cpus=plan.cpus,
            startup_timeout_s=plan.startup_timeout_s,
            request_timeout_s=plan.request_timeout_s,
        )
        for role, model in models.items()
    ]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        for server in servers:
            server.load(uri=models[server.name].uri)
        timings = measure(servers, load, plan)
        return {
            s.name: numbers(
                t,
                batch_size=load.batch_size,
                once={
                    "size_mb": artifact_mb(s.local_path),
                    "memory_mb": s.peak_mb(),
                    "load_s": s.load_s,
                    "server_baseline_mb": s.baseline_mb,
                },
            )
            for s, t in zip(servers, timings, strict=True)
        }
    finally:
        for server in servers:
            server.stop()


def _missing_champion(policy: OperationalPolicy, ref: dict[str, Any]) -> CheckResult:
    spec = policy.champion
    status = {"skip": Status.SKIPPED, "warn": Status.WARNED, "block": Status.FAILED}
    return CheckResult(
        name=f"champion@{spec.alias}",  # type: ignore[union-attr]
        family="champion",
        status=status[spec.if_missing],  # type: ignore[union-attr]
        message=f"no model holds alias '{spec.alias}' of '{ref.get('model_name')}': no "  # type: ignore[union-attr]
        f"champion to compare with (if_missing: {spec.if_missing})",  # type: ignore[union-attr]
    )


def _metrics(found: dict[str, ModelNumbers]) -> dict[str, float]:
    """Flat metrics: the candidate's numbers, the champion's prefixed, ratios and noise."""
    cand = found["candidate"]
    out = _numbers_of(cand)
    if "p95_ms" in cand.rounds:
        out["p95_ms_round_cv"] = noise(cand.rounds["p95_ms"])["cv"]
    champ = found.get("champion")
    if champ is not None:
        out.update({f"champion_{k}": v for k, v in _numbers_of(champ).items()})
        if "p95_ms" in cand.rounds and "p95_ms" in champ.rounds:
            ratios = cand.rounds["p95_ms"] / champ.rounds["p95_ms"]
            # The relative rule's estimate: pooled percentiles of the paired requests.
            out["p95_ms_ratio"] = cand.pooled["p95_ms"] / champ.pooled["p95_ms"]
            out["p95_ms_ratio_round_cv"] = noise(ratios)["cv"]
    return {k: round(float(v), 6) for k, v in out.items()}


def _numbers_of(model: ModelNumbers) -> dict[str, float]:
    """A model's reported numbers: the judged value of each metric and the pooled one."""
    out = {name: model.value(name) for name in [*model.pooled, *model.once]}
    out.update({f"{name}_pooled": v for name, v in model.pooled.items()})
    return out


def _tables(found: dict[str, ModelNumbers], policy: OperationalPolicy) -> list[dict[str, Any]]:
    """Report tables: the numbers of each model, the noise over rounds, the set-up."""
    cand, champ = found["candidate"], found.get("champion")
    names = [*cand.pooled, "size_mb", "memory_mb", "server_baseline_mb", "load_s"]
    rows = []
    for name in names:
        a, a_all = cand.value(name), cand.pooled.get(name)
        b = champ.value(name) if champ is not None else None
        b_all = champ.pooled.get(name) if champ is not None else None
        # Ratios as the relative rules estimate them: pooled where requests were pooled.
        ratio = (a_all / b_all) if a_all is not None and b_all else (a / b if b else None)
        rows.append([name, round(a, 3), None if b is None else round(b, 3),
                     None if a_all is None else round(a_all, 3),
                     None if b_all is None else round(b_all, 3),
                     None if ratio is None else round(ratio, 3)])  # fmt: skip
    spread = []
    for role, model in found.items():
        for name, values in model.rounds.items():
            n = noise(values)
            spread.append([role, name, ", ".join(f"{v:.3g}" for v in values),
                           round(n["cv"], 4), round(n["max_over_min"], 3)])  # fmt: skip
    plan = policy.measurement
    setup = [
        ["CPUs assumed (KFP task request = limit)", plan.cpus],
        ["CPUs available to this process", round(available_cpus(), 2)],
        ["model server", "MLServer 1.7.1 (KServe's runtime for modelFormat mlflow/sklearn)"],
        [
            "rounds x (single, batch) requests per model",
            f"{plan.rounds} x ({plan.requests_per_round}, {plan.batch_requests_per_round})",
        ],  # fmt: skip
        ["batch size, warm-up requests", f"{plan.batch_size}, {plan.warmup_requests}"],
        ["latency", LATENCY_METHOD],
    ]
    return [
        {
            "title": "Measured (latencies: median of the per-round values, as the absolute "
            "rules judge them, and pooled over every request, as the ratios are estimated)",
            "columns": [
                "metric",
                "candidate",
                "champion",
                "candidate pooled",
                "champion pooled",
                "ratio",
            ],
            "rows": rows,
        },  # fmt: skip
        {
            "title": "Noise over rounds (run-to-run spread)",
            "columns": ["model", "metric", "per round", "CV", "max/min"],
            "rows": spread,
        },  # fmt: skip
        {"title": "Measurement set-up", "columns": ["what", "value"], "rows": setup},
    ]


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Serve and measure the candidate (and the champion), judge the rules (registry entry).

    Args:
        ctx: The run's context: evaluation data (the request rows), the candidate, the
            champion and the ``gates.operational`` section.

    Returns:
        Checks (absolute and relative rules), metrics (p50/p95/p99, throughput, size, memory,
        load time, champion's prefixed, the p95 ratio and its round-to-round noise) and the
        report tables.

    Raises:
        GateInputError: No server runtime, a model the server cannot load, a failing request.
    """
    policy: OperationalPolicy = ctx.section
    data = ctx.data(require_label=False)
    candidate = ctx.model()
    # The in-process prediction first: a model that does not take the data fails here with the
    # same message as in every other gate, before any server starts.
    ctx.predictions(candidate, data)
    frame = model_input(candidate, data)
    if candidate.feature_names:
        frame = frame[candidate.feature_names]
    load = payloads(frame, batch_size=policy.measurement.batch_size, source=data.source)
    models = {"candidate": candidate}
    checks: list[CheckResult] = []
    ref: dict[str, Any] = {}
    if policy.champion is not None:
        champion, ref = ctx.champion()
        if champion is None:
            checks.append(_missing_champion(policy, ref))
        else:
            models["champion"] = champion
    found = _serve_and_measure(models, load, policy)
    checks += [absolute_check(r, found["candidate"], policy=policy) for r in policy.rules]
    if "champion" in found:
        checks += [
            relative_check(r, found["candidate"], found["champion"], policy=policy,
                           alias=policy.champion.alias)  # type: ignore[union-attr]
            for r in policy.champion.rules  # type: ignore[union-attr]
        ]  # fmt: skip
    details = {
        "tables": _tables(found, policy),
        "model_uri": candidate.uri,
        "champion": ref,
        "cpus_assumed": policy.measurement.cpus,
        "cpus_available": available_cpus(),
        "latency_method": LATENCY_METHOD,
    }
    return Evaluation(checks=checks, metrics=_metrics(found), details=details)
