"""Smoke test of bench/simulate_decisions.py on a tiny configuration (a few seconds)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "simulate_decisions.py"


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("simulate_decisions", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["simulate_decisions"] = module
    spec.loader.exec_module(module)
    return module


def test_truths(sim):
    assert sim.true_improvement("roc_auc", 1.0, 1.0) == 0.0
    mu = sim.mu_for_auc(0.8)
    delta = sim.unfair_delta(mu, sim.UNFAIR_DPD)
    truth = sim.fairness_truth(mu, [0.0, delta])
    assert truth["DPD"] == pytest.approx(sim.UNFAIR_DPD, abs=1e-9)
    assert sim.fairness_truth(mu, [0.0, 0.0]) == {"DPD": 0.0, "EOD": 0.0}
    # The inferior candidate is worse than the margin on every champion metric.
    worse = sim.mu_for_auc(0.8 - sim.INFERIOR_BY)
    assert all(sim.true_improvement(m, worse, mu) < -sim.MARGIN for m in sim.CHAMPION_METRICS)


def test_tiny_run_is_deterministic(sim):
    cfg = sim.Config(
        seed=3,
        reps=1,
        sizes=(2_000,),
        slice_rows=(200,),
        fair_cells=((2, 60),),
        n_resamples=200,
        jobs=1,
    )
    first, _ = sim.run(cfg)
    second, _ = sim.run(cfg)
    assert first == second
    assert len(first["champion/2000/equal"]) == 3
    out = first["champion/2000/equal"][0]["roc_auc"]
    assert out["decision"] in ("pass", "fail", "inconclusive")
    assert out["low"] <= out["value"] <= out["high"]
    fair = first["fairness/2x60/fair"][0]["DPD"]
    assert math.isfinite(fair["bias_corrected"]) and fair["detectable"] > 0
    text = sim.report(cfg, first)
    for heading in ("### 1.", "### 2.", "### 3.", "### 4."):
        assert heading in text
