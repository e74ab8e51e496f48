"""The operational gate's own overhead, and the stability of p95 across repeated runs.

Times the parts of one gate run (server start, model load, warm-up, measurement, the whole gate
in wall and CPU time of this process), then runs the gate 5 times on a candidate whose p95 is
within a few percent of the champion's (two logistic regressions) and reports each run's p95,
ratio, interval and verdict: repeated runs must give the same verdict (no flapping).

    .venv/bin/python bench/bench_operational.py [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import yaml
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from quality_gates.components.operational_gate.measure import measure, payloads
from quality_gates.components.operational_gate.policy import Measurement
from quality_gates.shared.demo.data import NUMERIC_FEATURES, make_credit_data
from quality_gates.shared.gates.runner import GateInputs, run_gate
from quality_gates.shared.serving.mlserver import ModelServer


def _models(root: Path) -> tuple[Path, Path, Path]:
    frame = make_credit_data(n_rows=3000, seed=41)
    x, y = frame[NUMERIC_FEATURES], frame["default"]
    paths = []
    for name, c in (("candidate", 0.5), ("champion", 1.0)):
        model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(C=c))
        joblib.dump(model.fit(x, y), root / f"{name}.joblib")
        paths.append(root / f"{name}.joblib")
    frame.iloc[:500].to_parquet(root / "eval.parquet", index=False)
    return paths[0], paths[1], root / "eval.parquet"


def _phases(candidate: Path, champion: Path, data: Path) -> dict[str, float]:
    """Wall seconds of each phase, run by hand with the gate's own parts."""
    import pandas as pd

    plan = Measurement()
    servers = [ModelServer(name="candidate", local_path=str(candidate)),
               ModelServer(name="champion", local_path=str(champion))]  # fmt: skip
    out: dict[str, float] = {}
    try:
        t = time.perf_counter()
        for s in servers:
            s.launch()
        for s in servers:
            s.wait_ready()
        out["server start (both)"] = time.perf_counter() - t
        t = time.perf_counter()
        for s in servers:
            s.load(uri=s.local_path)
        out["model load (both)"] = time.perf_counter() - t
        load = payloads(pd.read_parquet(data)[NUMERIC_FEATURES], batch_size=64, source="bench")
        t = time.perf_counter()
        measure(servers, load, _warm(plan))
        out["warm-up"] = time.perf_counter() - t
        t = time.perf_counter()
        measure(servers, load, plan.model_copy(update={"warmup_requests": 1}))
        out["measurement (8 rounds)"] = time.perf_counter() - t
    finally:
        for s in servers:
            s.stop()
    return out


def _warm(plan: Measurement) -> Measurement:
    # The smallest measurement the policy allows, to time the warm-up alone (about).
    return plan.model_copy(update={"rounds": 3, "requests_per_round": 5,
                                   "batch_requests_per_round": 0})  # fmt: skip


def _gate(candidate: Path, champion: Path, data: Path) -> tuple[float, float, dict]:
    section = {"rules": [{"metric": "p95_ms", "max": 50}],
               "champion": {"rules": [{"metric": "p95_ms", "max_ratio": 1.2}]}}  # fmt: skip
    text = yaml.safe_dump({"data": {"label": "default"}, "gates": {"operational": section}})
    # The champion is given as a local file: patch the context's champion lookup.
    from quality_gates.shared.gates import context

    real = context.GateContext.champion

    def champion_from_file(self):
        loaded = self.session.model(str(champion), None)
        return loaded, {"uri": str(champion), "model_name": "bench", "alias": "production"}

    context.GateContext.champion = champion_from_file
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_gate(
            "operational",
            GateInputs(data_uri=str(data), model_uri=str(candidate), policy_text=text),
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        context.GateContext.champion = real
    check = next(c for c in result.checks if "ratio" in c.name)
    return (
        wall,
        cpu,
        {
            "status": result.status.value,
            "p95_ms": result.metrics["p95_ms"],
            "champion_p95_ms": result.metrics["champion_p95_ms"],
            "ratio": check.value,
            "ci": (check.ci_low, check.ci_high),
            "decision": check.decision,
            "ratio_cv": result.metrics["p95_ms_ratio_round_cv"],
        },
    )


def main() -> None:
    """Print the phase table and the repeated-run table (Markdown)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        candidate, champion, data = _models(Path(tmp))
        phases = _phases(candidate, champion, data)
        print("| phase | wall s |\n|---|---|")
        for name, seconds in phases.items():
            print(f"| {name} | {seconds:.2f} |")
        rows = [_gate(candidate, champion, data) for _ in range(args.runs)]
    print("\n| run | gate wall s | gate CPU s (this process) | p95 ms cand / champ (median "
          "round) | p95 ratio (pooled) | 90% interval (block bootstrap over rounds) | round CV "
          "of ratio | decision | status |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for i, (wall, cpu, r) in enumerate(rows, 1):
        print(f"| {i} | {wall:.1f} | {cpu:.1f} | {r['p95_ms']:.2f} / {r['champion_p95_ms']:.2f} "
              f"| {r['ratio']:.3f} | [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {r['ratio_cv']:.3f} "
              f"| {r['decision']} | {r['status']} |")  # fmt: skip
    p95 = np.array([r["p95_ms"] for _, _, r in rows])
    verdicts = sorted({r["status"] for *_, r in rows})
    cv = p95.std(ddof=1) / p95.mean()
    print(f"\ncandidate p95 over {len(rows)} runs: mean {p95.mean():.2f} ms, CV {cv:.3f}; "
          f"verdicts: {verdicts}")  # fmt: skip


if __name__ == "__main__":
    main()
