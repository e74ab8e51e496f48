"""Simulation study of the gates' decisions: false-fail, inconclusive, power and coverage.

Data with a KNOWN truth are fed to the gates' own evaluation functions
(``performance_gate.core.evaluate`` and ``fairness_gate.core.evaluate``); nothing of the rule
engine is reimplemented here. The script counts how often a rule is shown to pass, shown to fail
or inconclusive, and how often an interval covers the true value, and prints Markdown tables.

Data (vectorised numpy, truths analytic):

* Labels: Bernoulli with prevalence 0.3.
* Scores: binormal: a latent ``s ~ N(mu * y, 1)``, so the true ROC AUC is ``Phi(mu / sqrt 2)``;
  the probability handed to the gate is the calibrated posterior
  ``logit p = logit 0.3 + mu * s - mu^2 / 2`` (so log loss is meaningful), decisions are
  ``p >= 0.3`` (the demo policy's threshold), i.e. ``s >= t`` with known TPR ``Phi(mu - t)`` and
  FPR ``Phi(-t)``.
* Champion comparison: candidate and champion share the label signal and 80% of the noise
  variance (a common draw), each has its own independent noise of the same variance, so at
  equal ``mu`` the two are exchangeable and every true difference is exactly 0. "Inferior":
  the candidate's ``mu`` gives an AUC 0.02 lower (true F1 and log-loss differences computed
  analytically).
* Fairness: per group the same binormal model, an unfair group's latent score is shifted by
  ``delta``, chosen so that the true demographic parity difference is 0.15; true TPR, FPR and
  selection rates per group are analytic.

Every replication has its own seed (data and bootstrap) from ``SeedSequence([seed, cell, rep])``;
the results are collected in task order, so the output depends on ``--seed`` only, not on
``--jobs``.

Run: ``.venv/bin/python bench/simulate_decisions.py`` (default: a few minutes on 2 cores);
``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, optimize
from scipy.special import expit, logit
from scipy.stats import norm

from quality_gates.components.fairness_gate import core as fairness_core
from quality_gates.components.fairness_gate.groups import build_grouping
from quality_gates.components.fairness_gate.policy import FairnessPolicy
from quality_gates.components.performance_gate.core import Encoded
from quality_gates.components.performance_gate.core import evaluate as performance_evaluate
from quality_gates.components.performance_gate.policy import PerformancePolicy

PREVALENCE = 0.3
THRESHOLD = 0.3  # decision threshold on the calibrated probability (the demo policy's)
CONFIDENCE = 0.95
#: Share of each model's noise variance that candidate and champion have in common.
SHARED_NOISE = 0.8
CHAMPION_AUC = 0.80
INFERIOR_BY = 0.02
MARGIN = 0.01
CHAMPION_METRICS = ("roc_auc", "f1", "log_loss")
#: The demo policy's champion section (``shared/demo/policies/demo.yaml``): these two rules.
DEMO_RULES = ("roc_auc", "log_loss")
ABS_MIN = 0.70
ABS_TRUTHS = (0.69, 0.70, 0.71)
SLICE_AUC = 0.72
N_SLICES = 10
MULTIPLICITIES = ("holm", "bh", "none")
FAIR_AUC = 0.80
FAIR_MAX = 0.10
UNFAIR_DPD = 0.15
DISPARITIES = {"DPD": "demographic_parity_difference", "EOD": "equalized_odds_difference"}


# --------------------------------------------------------------------------------------------
# Truths


def mu_for_auc(auc: float) -> float:
    """Separation of the binormal model with ROC AUC ``auc``."""
    return math.sqrt(2.0) * float(norm.ppf(auc))


def cut(mu: float) -> float:
    """Latent cut-off ``t``: ``p >= THRESHOLD`` iff ``s >= t``."""
    return (float(logit(THRESHOLD) - logit(PREVALENCE)) + mu * mu / 2.0) / mu


def true_rates(mu: float, delta: float = 0.0) -> dict[str, float]:
    """TPR, FPR and selection rate of ``s + delta >= t(mu)`` with ``s ~ N(mu y, 1)``."""
    t = cut(mu)
    tpr = float(norm.cdf(mu + delta - t))
    fpr = float(norm.cdf(delta - t))
    return {"tpr": tpr, "fpr": fpr, "sr": PREVALENCE * tpr + (1 - PREVALENCE) * fpr}


def true_f1(mu: float) -> float:
    r = true_rates(mu)
    tp = PREVALENCE * r["tpr"]
    return 2 * tp / (tp + (1 - PREVALENCE) * r["fpr"] + PREVALENCE)


def true_log_loss(mu: float) -> float:
    """Expected log loss of the calibrated binormal posterior (numerical integration)."""

    def lo(s: float) -> float:
        return math.log(PREVALENCE / (1 - PREVALENCE)) + mu * s - mu * mu / 2

    pos, _ = integrate.quad(lambda s: norm.pdf(s - mu) * np.logaddexp(0, -lo(s)), -np.inf, np.inf)
    neg, _ = integrate.quad(lambda s: norm.pdf(s) * np.logaddexp(0, lo(s)), -np.inf, np.inf)
    return PREVALENCE * pos + (1 - PREVALENCE) * neg


def true_improvement(metric: str, mu_cand: float, mu_champ: float) -> float:
    """Candidate minus champion, signed so that positive means the candidate is better."""
    if metric == "roc_auc":
        return float(norm.cdf(mu_cand / math.sqrt(2)) - norm.cdf(mu_champ / math.sqrt(2)))
    if metric == "f1":
        return true_f1(mu_cand) - true_f1(mu_champ)
    return true_log_loss(mu_champ) - true_log_loss(mu_cand)


def unfair_delta(mu: float, dpd: float) -> float:
    """Latent shift of one group that makes its selection rate ``dpd`` above the others'."""
    base = true_rates(mu)["sr"]
    return float(optimize.brentq(lambda d: true_rates(mu, d)["sr"] - base - dpd, 0.0, 5.0))


def fairness_truth(mu: float, deltas: Sequence[float]) -> dict[str, float]:
    rates = [true_rates(mu, d) for d in deltas]

    def spread(key: str) -> float:
        values = [r[key] for r in rates]
        return max(values) - min(values)

    return {"DPD": spread("sr"), "EOD": max(spread("tpr"), spread("fpr"))}


# --------------------------------------------------------------------------------------------
# Data


def labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.random(n) < PREVALENCE).astype(np.int64)


def calibrated(s: np.ndarray, mu: float) -> np.ndarray:
    return expit(math.log(PREVALENCE / (1 - PREVALENCE)) + mu * s - mu * mu / 2)


def encoded(y: np.ndarray, p: np.ndarray) -> Encoded:
    return Encoded("binary", y, (p >= THRESHOLD).astype(np.int64), p, [0, 1])


def seeds(seed: int, cell: str, rep: int) -> tuple[np.random.Generator, int]:
    """The data generator and the gate's bootstrap seed of one replication of one cell."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(cell.encode()), rep]))
    return rng, int(rng.integers(2**31 - 1))


# --------------------------------------------------------------------------------------------
# One replication of each study (each calls the gate's own evaluate)


def _outcome(check: Any) -> dict[str, Any]:
    return {
        "decision": check.decision,
        "value": check.value,
        "low": check.ci_low,
        "high": check.ci_high,
    }


def champion_once(
    n: int, inferior: bool, *, rng: np.random.Generator, gate_seed: int, n_resamples: int
) -> dict[str, dict[str, Any]]:
    """One champion comparison: per metric the decision and the improvement's interval."""
    mu_h = mu_for_auc(CHAMPION_AUC)
    mu_c = mu_for_auc(CHAMPION_AUC - INFERIOR_BY) if inferior else mu_h
    y = labels(rng, n)
    common = math.sqrt(SHARED_NOISE) * rng.standard_normal(n)
    own = math.sqrt(1 - SHARED_NOISE)
    s_c = mu_c * y + common + own * rng.standard_normal(n)
    s_h = mu_h * y + common + own * rng.standard_normal(n)
    policy = PerformancePolicy.model_validate(
        {
            "task": "binary",
            "decision_threshold": THRESHOLD,
            "n_resamples": n_resamples,
            "seed": gate_seed,
            "champion": {
                "rules": [{"metric": m, "margin": MARGIN} for m in CHAMPION_METRICS],
                "n_resamples": n_resamples,
                "confidence": CONFIDENCE,
                "seed": gate_seed,
            },
        }
    )
    checks, _, _ = performance_evaluate(
        policy=policy,
        candidate=encoded(y, calibrated(s_c, mu_c)),
        frame=pd.DataFrame(index=range(n)),
        source="sim",
        champion=encoded(y, calibrated(s_h, mu_h)),
        champion_ref={"alias": "production", "uri": "sim", "model_name": "sim"},
    )
    out = {}
    for metric in CHAMPION_METRICS:
        (check,) = [c for c in checks if c.name.startswith(f"{metric} vs champion")]
        out[metric] = _outcome(check)
    return out


def absolute_once(
    n: int, auc: float, *, rng: np.random.Generator, gate_seed: int, n_resamples: int
) -> dict[str, Any]:
    """One ``roc_auc min 0.70`` rule, judged on the interval and on the estimate."""
    mu = mu_for_auc(auc)
    y = labels(rng, n)
    s = mu * y + rng.standard_normal(n)
    policy = PerformancePolicy.model_validate(
        {
            "task": "binary",
            "decision_threshold": THRESHOLD,
            "n_resamples": n_resamples,
            "confidence": CONFIDENCE,
            "seed": gate_seed,
            "rules": [
                {"metric": "roc_auc", "min": ABS_MIN, "judge_on": "interval"},
                {"metric": "roc_auc", "min": ABS_MIN, "judge_on": "estimate"},
            ],
        }
    )
    checks, _, _ = performance_evaluate(
        policy=policy,
        candidate=encoded(y, calibrated(s, mu)),
        frame=pd.DataFrame(index=range(n)),
        source="sim",
    )
    on_interval, on_estimate = checks
    out = _outcome(on_interval)
    # judge_on: estimate has two outcomes and no decision; its status says pass or fail.
    out["estimate"] = "pass" if on_estimate.status.value == "passed" else "fail"
    return out


def slices_once(
    rows: int, *, rng: np.random.Generator, gate_seed: int, n_resamples: int
) -> dict[str, list[str]]:
    """10 slices truly at AUC 0.72 against ``min 0.70``: decisions under each multiplicity."""
    mu = mu_for_auc(SLICE_AUC)
    n = rows * N_SLICES
    y = labels(rng, n)
    s = mu * y + rng.standard_normal(n)
    frame = pd.DataFrame({"segment": np.repeat([f"s{k}" for k in range(N_SLICES)], rows)})
    candidate = encoded(y, calibrated(s, mu))
    out = {}
    for method in MULTIPLICITIES:
        policy = PerformancePolicy.model_validate(
            {
                "task": "binary",
                "decision_threshold": THRESHOLD,
                "n_resamples": n_resamples,
                "confidence": CONFIDENCE,
                "multiplicity": method,
                "seed": gate_seed,
                "slices": [{"column": "segment", "metric": "roc_auc", "min": ABS_MIN}],
            }
        )
        checks, _, _ = performance_evaluate(
            policy=policy, candidate=candidate, frame=frame, source="sim"
        )
        out[method] = [c.decision for c in checks if c.family == "slices"]
    return out


def fairness_once(
    n_groups: int,
    per_group: int,
    unfair: bool,
    *,
    rng: np.random.Generator,
    gate_seed: int,
    n_resamples: int,
) -> dict[str, dict[str, Any]]:
    """One fairness evaluation: DPD and EOD rules ``max 0.1`` over ``n_groups`` groups."""
    mu = mu_for_auc(FAIR_AUC)
    deltas = np.zeros(n_groups)
    if unfair:
        deltas[-1] = unfair_delta(mu, UNFAIR_DPD)
    group = np.repeat(np.arange(n_groups), per_group)
    y = labels(rng, group.size)
    s = mu * y + rng.standard_normal(group.size) + deltas[group]
    p = calibrated(s, mu)
    policy = FairnessPolicy.model_validate(
        {
            "task": "binary",
            "sensitive_features": ["grp"],
            "decision_threshold": THRESHOLD,
            "confidence": CONFIDENCE,
            "n_resamples": n_resamples,
            "seed": gate_seed,
            "rules": [
                {"metric": metric, "max": FAIR_MAX, "rationale": "simulation"}
                for metric in DISPARITIES.values()
            ],
        }
    )
    grouping = build_grouping(
        pd.DataFrame({"grp": [f"g{k}" for k in group]}), ("grp",), missing="error", source="sim"
    )
    checks, _, _ = fairness_core.evaluate(
        policy=policy,
        task="binary",
        y_true=y,
        y_pred=(p >= THRESHOLD).astype(np.int64),
        y_score=p,
        groupings=[grouping],
    )
    out = {}
    for short, metric in DISPARITIES.items():
        (check,) = [c for c in checks if c.name.startswith(f"{metric} [grp]")]
        out[short] = {
            **_outcome(check),
            "bias_corrected": check.details.get("bias_corrected"),
            "detectable": check.details.get("detectable"),
        }
    return out


# --------------------------------------------------------------------------------------------
# Configuration and tasks


@dataclass(frozen=True)
class Config:
    """What to simulate and how often.

    Attributes:
        seed: Master seed.
        reps: Base replication count ``R``: cells of at most 5 000 rows get ``3 R``, the
            fairness cells ``4 R`` (both cheap), the 20 000-row and slice cells ``R``, cells of
            ``large_from`` rows or more ``max(4, R // 8)`` (their bootstrap is the costly part).
        sizes: Row counts of the champion and threshold studies.
        slice_rows: Rows per slice.
        fair_cells: ``(groups, rows per group)`` of the fairness study.
        n_resamples: Bootstrap resamples below ``large_from`` rows.
        n_resamples_large: Bootstrap resamples at ``large_from`` rows and more.
        large_from: Row count from which ``n_resamples_large`` and the large rep count apply.
        jobs: Worker processes.
        charts: Draw the fairness gate's per-group chart (off: stubbed, see ``_init_worker``).
        studies: The studies to run.
    """

    seed: int = 20260
    reps: int = 100
    sizes: tuple[int, ...] = (2_000, 20_000, 200_000)
    slice_rows: tuple[int, ...] = (2_000, 500)
    fair_cells: tuple[tuple[int, int], ...] = ((2, 50), (2, 100), (2, 1000), (4, 100), (4, 1000))
    n_resamples: int = 400
    n_resamples_large: int = 1000
    large_from: int = 100_000
    jobs: int = 2
    charts: bool = False
    studies: tuple[str, ...] = ("champion", "absolute", "slices", "fairness")

    def reps_for(self, n: int) -> int:
        if n >= self.large_from:
            return max(4, self.reps // 8)
        return 3 * self.reps if n <= 5_000 else self.reps

    def resamples_for(self, n: int) -> int:
        return self.n_resamples_large if n >= self.large_from else self.n_resamples


@dataclass
class Task:
    study: str
    cell: str
    rep: int
    params: dict[str, Any] = field(default_factory=dict)
    cost: float = 1.0


def build_tasks(cfg: Config) -> list[Task]:
    tasks = [t for t in _all_tasks(cfg) if t.study in cfg.studies]
    return tasks


def _all_tasks(cfg: Config) -> list[Task]:
    tasks = []
    for n in cfg.sizes:
        for inferior in (False, True):
            cell = f"champion/{n}/{'inferior' if inferior else 'equal'}"
            tasks += [
                Task("champion", cell, r, {"n": n, "inferior": inferior}, n * 1.3)
                for r in range(cfg.reps_for(n))
            ]
        for auc in ABS_TRUTHS:
            cell = f"absolute/{n}/{auc}"
            tasks += [
                Task("absolute", cell, r, {"n": n, "auc": auc}, n * 0.5)
                for r in range(cfg.reps_for(n))
            ]
    for rows in cfg.slice_rows:
        tasks += [
            Task("slices", f"slices/{rows}", r, {"rows": rows}, rows * N_SLICES * 0.6)
            for r in range(cfg.reps)
        ]
    for groups, per in cfg.fair_cells:
        for unfair in (False, True):
            cell = f"fairness/{groups}x{per}/{'unfair' if unfair else 'fair'}"
            params = {"n_groups": groups, "per_group": per, "unfair": unfair}
            tasks += [Task("fairness", cell, r, params, 500.0) for r in range(4 * cfg.reps)]
    return tasks


_STUDIES: dict[str, Callable[..., Any]] = {
    "champion": champion_once,
    "absolute": absolute_once,
    "slices": slices_once,
    "fairness": fairness_once,
}


def run_task(job: tuple[Config, Task]) -> tuple[Any, float]:
    """One replication: its result and the CPU seconds it took."""
    cfg, task = job
    cpu = time.process_time()
    rng, gate_seed = seeds(cfg.seed, task.cell, task.rep)
    resamples = cfg.resamples_for(task.params.get("n", 0))
    out = _STUDIES[task.study](**task.params, rng=rng, gate_seed=gate_seed, n_resamples=resamples)
    return out, time.process_time() - cpu


def _init_worker(charts: bool) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one process per core; BLAS threads would fight over it
    if not charts:
        # The per-group PNG chart is report decoration, about 80% of a fairness call's time and
        # no input to any decision; the simulation skips drawing it (--charts keeps it).
        fairness_core._chart = lambda *args, **kwargs: {}


def run(cfg: Config) -> tuple[dict[str, list[Any]], dict[str, float]]:
    """Run every task: results per cell in replication order, and CPU seconds per study."""
    tasks = build_tasks(cfg)
    # Costly tasks first so that no worker is left with a long one at the end; the results
    # are put back by (cell, rep), so the order of execution does not matter.
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].cost)
    jobs = [(cfg, tasks[i]) for i in order]
    if cfg.jobs > 1:
        with get_context("fork").Pool(cfg.jobs, _init_worker, (cfg.charts,)) as pool:
            results = pool.map(run_task, jobs, chunksize=1)
    else:
        # In this process: limit BLAS threads and stub the chart only for the run, then restore
        # both (the script may be imported, e.g. by its smoke test).
        from threadpoolctl import threadpool_limits

        chart = fairness_core._chart
        try:
            with threadpool_limits(1):
                _init_worker(cfg.charts)
                results = [run_task(job) for job in jobs]
        finally:
            fairness_core._chart = chart
    by_cell: dict[str, dict[int, Any]] = {}
    cpu: dict[str, float] = {}
    for i, (res, seconds) in zip(order, results, strict=True):
        by_cell.setdefault(tasks[i].cell, {})[tasks[i].rep] = res
        cpu[tasks[i].study] = cpu.get(tasks[i].study, 0.0) + seconds
    return {cell: [reps[r] for r in sorted(reps)] for cell, reps in by_cell.items()}, cpu


# --------------------------------------------------------------------------------------------
# Summaries


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(flags: Sequence[bool]) -> str:
    k, n = int(sum(flags)), len(flags)
    lo, hi = wilson(k, n)
    return f"{k / n:.3f} [{lo:.3f}, {hi:.3f}]"


def mean_se(values: Sequence[float | None], digits: int = 4) -> str:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return "n/a"
    se = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else float("nan")
    return f"{v.mean():.{digits}f} ± {se:.{digits}f}"


def covers(o: dict[str, Any], truth: float) -> bool:
    lo, hi = o["low"], o["high"]
    return lo is not None and hi is not None and lo - 1e-12 <= truth <= hi + 1e-12


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def champion_table(cfg: Config, res: dict[str, list[Any]]) -> str:
    mu_h = mu_for_auc(CHAMPION_AUC)
    mu_inf = mu_for_auc(CHAMPION_AUC - INFERIOR_BY)
    rows = []
    for n in cfg.sizes:
        for cond in ("equal", "inferior"):
            runs = res[f"champion/{n}/{cond}"]
            mu_c = mu_inf if cond == "inferior" else mu_h
            for metric in (*CHAMPION_METRICS, "demo"):
                if metric == "demo":
                    dec = [[r[m]["decision"] for m in DEMO_RULES] for r in runs]
                    fail = [any(d == "fail" for d in ds) for ds in dec]
                    ok = [all(d == "pass" for d in ds) for ds in dec]
                    inc = [not f and not p for f, p in zip(fail, ok, strict=True)]
                    truth_s, cover, width = "—", "—", "—"
                    label = "demo: roc_auc + log_loss"
                else:
                    outs = [r[metric] for r in runs]
                    truth = 0.0 if cond == "equal" else true_improvement(metric, mu_c, mu_h)
                    fail = [o["decision"] == "fail" for o in outs]
                    ok = [o["decision"] == "pass" for o in outs]
                    inc = [o["decision"] == "inconclusive" for o in outs]
                    truth_s = f"{truth:+.4f}"
                    cover = rate([covers(o, truth) for o in outs])
                    width = mean_se([o["high"] - o["low"] for o in outs])
                    label = metric
                rows.append(
                    [
                        f"{n:,}",
                        cond,
                        label,
                        truth_s,
                        len(runs),
                        rate(fail),
                        rate(inc),
                        rate(ok),
                        cover,
                        width,
                    ]
                )
    return md_table(
        [
            "rows",
            "candidate",
            "rule (margin 0.01)",
            "true improvement",
            "reps",
            "shown to fail",
            "inconclusive",
            "shown to pass",
            "coverage of true diff",
            "mean CI width",
        ],
        rows,
    )


def absolute_table(cfg: Config, res: dict[str, list[Any]]) -> str:
    rows = []
    for n in cfg.sizes:
        for auc in ABS_TRUTHS:
            runs = res[f"absolute/{n}/{auc}"]
            rows.append(
                [
                    f"{n:,}",
                    f"{auc:.2f}",
                    len(runs),
                    rate([r["decision"] == "pass" for r in runs]),
                    rate([r["decision"] == "inconclusive" for r in runs]),
                    rate([r["decision"] == "fail" for r in runs]),
                    rate([r["estimate"] == "pass" for r in runs]),
                    rate([r["estimate"] == "fail" for r in runs]),
                    rate([covers(r, auc) for r in runs]),
                ]
            )
    return md_table(
        [
            "rows",
            "true AUC",
            "reps",
            "interval: shown to pass",
            "interval: inconclusive",
            "interval: shown to fail",
            "estimate: pass",
            "estimate: fail",
            "coverage of AUC CI",
        ],
        rows,
    )


def slices_table(cfg: Config, res: dict[str, list[Any]]) -> str:
    rows = []
    for per in cfg.slice_rows:
        runs = res[f"slices/{per}"]
        for method in MULTIPLICITIES:
            dec = [r[method] for r in runs]
            share = [np.mean([d == "inconclusive" for d in ds]) for ds in dec]
            rows.append(
                [
                    f"{N_SLICES} × {per:,}",
                    method,
                    len(runs),
                    rate([any(d == "fail" for d in ds) for ds in dec]),
                    mean_se(share, 3),
                    rate([all(d == "pass" for d in ds) for ds in dec]),
                ]
            )
    return md_table(
        [
            "slices × rows",
            "multiplicity",
            "reps",
            "P(≥ 1 slice shown to fail)",
            "share of slices inconclusive",
            "P(all slices shown to pass)",
        ],
        rows,
    )


def fairness_table(cfg: Config, res: dict[str, list[Any]]) -> str:
    mu = mu_for_auc(FAIR_AUC)
    rows = []
    for groups, per in cfg.fair_cells:
        for cond in ("fair", "unfair"):
            runs = res[f"fairness/{groups}x{per}/{cond}"]
            deltas = np.zeros(groups)
            if cond == "unfair":
                deltas[-1] = unfair_delta(mu, UNFAIR_DPD)
            truth = fairness_truth(mu, deltas)
            for short in DISPARITIES:
                outs = [r[short] for r in runs]
                rows.append(
                    [
                        f"{groups} × {per:,}",
                        cond,
                        short,
                        f"{truth[short]:.4f}",
                        len(runs),
                        mean_se([o["value"] for o in outs]),
                        mean_se([o["bias_corrected"] for o in outs]),
                        rate([covers(o, truth[short]) for o in outs]),
                        rate([o["decision"] == "fail" for o in outs]),
                        rate([o["decision"] == "inconclusive" for o in outs]),
                        rate([o["decision"] == "pass" for o in outs]),
                        mean_se([o["detectable"] for o in outs], 3),
                    ]
                )
    return md_table(
        [
            "groups × rows",
            "truth",
            "disparity",
            "true value",
            "reps",
            "mean plug-in",
            "mean bias-corrected",
            "coverage",
            "shown to fail (max 0.1)",
            "inconclusive",
            "shown to pass",
            "mean detectable",
        ],
        rows,
    )


def report(cfg: Config, res: dict[str, list[Any]]) -> str:
    sizes = ", ".join(
        f"{n:,} rows: {cfg.reps_for(n)} reps, {cfg.resamples_for(n)} resamples" for n in cfg.sizes
    )
    counts = []
    if {"champion", "absolute"} & set(cfg.studies):
        counts.append(sizes)
    if "slices" in cfg.studies:
        counts.append(f"slices: {cfg.reps} reps, {cfg.n_resamples} resamples")
    if "fairness" in cfg.studies:
        counts.append(f"fairness: {4 * cfg.reps} reps per cell, {cfg.n_resamples} resamples")
    parts = [
        f"Seed {cfg.seed}; {'; '.join(counts)}; confidence {CONFIDENCE}. Rates: share [Wilson "
        "95% interval]; means: mean ± Monte Carlo standard error."
    ]
    sections = {
        "champion": ("### 1. Champion comparison (non-inferiority, margin 0.01)", champion_table),
        "absolute": (f"### 2. Absolute threshold roc_auc min {ABS_MIN:.2f}", absolute_table),
        "slices": (
            f"### 3. Slices: {N_SLICES} slices truly at AUC {SLICE_AUC} against min {ABS_MIN:.2f}",
            slices_table,
        ),
        "fairness": (f"### 4. Fairness: DPD and EOD rules max {FAIR_MAX}", fairness_table),
    }
    for study, (title, table) in sections.items():
        if study in cfg.studies:
            parts += [title, table(cfg, res)]
    return "\n\n".join(parts)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: Sequence[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=None, help="base replications R (default 100)")
    ap.add_argument("--seed", type=int, default=Config.seed)
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 reps, no 200k rows")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--resamples", type=int, default=Config.n_resamples)
    ap.add_argument("--resamples-large", type=int, default=Config.n_resamples_large)
    ap.add_argument("--charts", action="store_true", help="draw the fairness charts too")
    ap.add_argument("--only", default=None, help="comma list of studies (default: all four)")
    ap.add_argument("--sizes", default=None, help="comma list of row counts (studies 1 and 2)")
    args = ap.parse_args(argv)
    cfg = Config(
        seed=args.seed,
        reps=args.reps if args.reps is not None else (10 if args.quick else Config.reps),
        sizes=(
            tuple(int(x) for x in args.sizes.split(","))
            if args.sizes
            else (2_000, 20_000)
            if args.quick
            else Config.sizes
        ),
        studies=tuple(args.only.split(",")) if args.only else Config.studies,
        n_resamples=args.resamples,
        n_resamples_large=args.resamples_large,
        jobs=args.jobs,
        charts=args.charts,
    )
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    res, per_study = run(cfg)
    text = report(cfg, res)
    cpu, wall = _cpu_seconds() - cpu0, time.perf_counter() - wall0
    studies = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in per_study.items())
    text += (
        f"\n\nRun time: {wall:.0f} s wall, {cpu:.0f} s process CPU (this process and its "
        f"{cfg.jobs} worker(s)), {len(build_tasks(cfg))} replications; CPU inside the "
        f"replications by study: {studies}.\n"
    )
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
