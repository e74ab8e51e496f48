"""Drift gate vs Evidently's ``DataDriftPreset``: CPU time, peak memory, equality of the statistics.

One run measures, on the same Parquet files (reference and current, ``rows`` × 25 columns:
20 numeric of various shapes, 5 categorical with 3 to 50 categories):

* **ours, gate**: ``run_gate("drift", GateInputs(...))`` on the Parquet files (reading, policy,
  evaluation, report with histograms, result), the whole run template;
* **ours, pure**: ``evaluate_drift(reference_df, current_df, policy)`` on DataFrames in memory;
* **Evidently**: ``Report([DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon")])``
  ``.run(current, reference)`` on pandas DataFrames (Evidently 0.7.23 does not import with
  pandas 3: it runs as a subprocess in its own virtualenv, ``--evidently-python``), and its
  default preset (which, above 1000 rows and 5 distinct values, picks the same two tests).

Every measurement is a fresh subprocess: its CPU time (``time.process_time``, every thread, after
the inputs are loaded and one small warm-up run) over ``--repeats`` runs, and its peak resident
memory (``ru_maxrss`` of the subprocess, so it includes the interpreter, the libraries and the
tables it holds). The statistics compared are Evidently's ``ValueDrift`` values against our
gate's judged distance per column: ``wasserstein_norm`` (numeric) and ``jensen_shannon``
(categorical).

Run: ``python bench/bench_drift.py --rows 100000 1000000`` (needs
``python3.11 -m venv /work/.venv-evidently && /work/.venv-evidently/bin/pip install
"evidently==0.7.23" "pandas<3" pyarrow``); ``--worker`` is the subprocess entry.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

EVIDENTLY_PYTHON = "/work/.venv-evidently/bin/python"
#: Categories of the five categorical columns.
CATEGORIES = (3, 5, 10, 20, 50)
POLICY_YAML = """\
gates:
  drift:
    numeric: {metric: wasserstein_norm, max: 0.1}
    categorical: {metric: jensen_shannon, max: 0.1}
    n_resamples: 500
"""
POLICY_DICT = {
    "numeric": {"metric": "wasserstein_norm", "max": 0.1},
    "categorical": {"metric": "jensen_shannon", "max": 0.1},
    "n_resamples": 500,
}
WARMUP_ROWS = 2_000
KINDS = ("gate", "pure", "evidently", "evidently-default")


def _numeric_columns(rows: int, rng: np.random.Generator, drifted: bool) -> dict[str, np.ndarray]:
    """Twenty numeric columns; ``drifted`` moves three of them a little (a 0.1-std mean shift)."""
    s = 1.0 if drifted else 0.0
    cols: dict[str, np.ndarray] = {}
    for i in range(6):
        cols[f"normal_{i}"] = rng.normal(3.0 * i + 0.1 * s * (i == 0), 1.0 + i, rows)
    for i in range(4):
        cols[f"lognormal_{i}"] = rng.lognormal(0.5 * i, 0.5 + 0.25 * i + 0.05 * s * (i == 1), rows)
    cols["int_poisson"] = rng.poisson(3.0 + 0.3 * s, rows)
    cols["int_geometric"] = rng.geometric(0.2, rows)
    cols["int_binomial"] = rng.binomial(10, 0.5, rows)
    cols["int_age"] = rng.integers(18, 90, rows)
    cols["uniform"] = rng.uniform(0.0, 1.0, rows)
    cols["amount"] = rng.normal(1e4, 50.0, rows)  # large mean, small spread
    cols["exponential_0"] = rng.exponential(2.0, rows)
    cols["exponential_1"] = rng.exponential(1.0, rows)
    x = rng.normal(0.0, 1.0, rows)
    x[rng.random(rows) < 0.05] = np.nan
    cols["nan_normal"] = x
    x = rng.lognormal(0.0, 1.0, rows)
    x[rng.random(rows) < 0.2 + 0.05 * s] = np.nan
    cols["nan_lognormal"] = x
    return cols


def make_table(rows: int, seed: int, *, drifted: bool) -> pd.DataFrame:
    """The benchmark table: 20 numeric and 5 categorical columns (Zipf-like shares).

    Args:
        rows: Rows.
        seed: Seed.
        drifted: Move a few columns (normal_0, lognormal_1, int_poisson, nan_lognormal's missing
            share, cat_10's top share) so that some distances are far from 0.

    Returns:
        The table.
    """
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = _numeric_columns(rows, rng, drifted)
    for k in CATEGORIES:
        p = 1.0 / np.arange(1, k + 1) ** 0.8
        if drifted and k == 10:
            p[0] *= 1.3
        labels = np.array([f"c{j:02d}" for j in range(k)], dtype=object)
        v = labels[rng.choice(k, rows, p=p / p.sum())]
        if k == 5:
            v[rng.random(rows) < 0.02] = None
        cols[f"cat_{k}"] = v
    return pd.DataFrame(cols)


def _finish(cpu: list[float], values: dict[str, float]) -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cpu": cpu, "peak_mb": peak_mb, "values": values}))


def _timed(run, repeats: int) -> tuple[list[float], object]:
    cpu, out = [], None
    for _ in range(repeats):
        t0 = time.process_time()
        out = run()
        cpu.append(time.process_time() - t0)
    return cpu, out


def worker_ours(ref_path: str, cur_path: str, repeats: int, *, whole_gate: bool) -> None:
    """Subprocess: time our gate (``run_gate`` on the files) or ``evaluate_drift`` (in memory)."""
    from quality_gates.components.drift_gate.core import evaluate_drift
    from quality_gates.components.drift_gate.policy import DriftPolicy
    from quality_gates.shared.gates.context import GateInputs
    from quality_gates.shared.gates.runner import run_gate

    policy = DriftPolicy.model_validate(POLICY_DICT)
    if whole_gate:
        inputs = GateInputs(data_uri=cur_path, reference_data_uri=ref_path, policy_text=POLICY_YAML)
        warm = make_table(WARMUP_ROWS, 9, drifted=False)
        with tempfile.TemporaryDirectory() as tmp:
            warm.to_parquet(f"{tmp}/w.parquet")
            w = str(Path(tmp) / "w.parquet")
            run_gate("drift", GateInputs(data_uri=w, reference_data_uri=w, policy_text=POLICY_YAML))
        cpu, result = _timed(lambda: run_gate("drift", inputs), repeats)
        if result.status.value == "error":
            raise SystemExit(f"gate error: {result.error}")
        metrics = result.metrics
    else:
        ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
        evaluate_drift(ref.head(WARMUP_ROWS), cur.head(WARMUP_ROWS), policy, skip=set())
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):  # as run_gate runs every gate
            cpu, ev = _timed(lambda: evaluate_drift(ref, cur, policy, skip=set()), repeats)
        metrics = ev.metrics
    values = {k.split(".", 1)[1]: float(v) for k, v in metrics.items() if "." in k}
    _finish(cpu, values)


def worker_evidently(ref_path: str, cur_path: str, repeats: int, *, forced: bool) -> None:
    """Subprocess (Evidently's venv): time ``Report([DataDriftPreset(...)]).run``."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    cat = [c for c in ref.columns if c.startswith("cat_")]
    num = [c for c in ref.columns if c not in cat]
    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    kwargs = {"num_method": "wasserstein", "cat_method": "jensenshannon"} if forced else {}

    def run(r: pd.DataFrame, c: pd.DataFrame):
        report = Report([DataDriftPreset(**kwargs)])
        return report.run(
            Dataset.from_pandas(c, data_definition=definition),
            Dataset.from_pandas(r, data_definition=definition),
        )

    run(ref.head(WARMUP_ROWS), cur.head(WARMUP_ROWS))
    cpu, snapshot = _timed(lambda: run(ref, cur), repeats)
    values = {
        m["config"]["column"]: float(m["value"])
        for m in snapshot.dict()["metrics"]
        if m["config"].get("type", "").endswith("ValueDrift")
    }
    _finish(cpu, values)


def measure(kind: str, ref: Path, cur: Path, repeats: int, evidently_python: str) -> dict:
    """Run one measurement in a fresh subprocess and return its JSON."""
    python = evidently_python if kind.startswith("evidently") else sys.executable
    cmd = [python, __file__, "--worker", kind, str(ref), str(cur), "--repeats", str(repeats)]
    env = dict(os.environ)
    if kind.startswith("evidently"):
        env.pop("PYTHONPATH", None)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(m: dict) -> str:
    return f"{min(m['cpu']):.2f} / {statistics.median(m['cpu']):.2f} s"


def compare(ours: dict[str, float], theirs: dict[str, float]) -> dict[str, tuple[float, str]]:
    """Largest |ours − Evidently| over numeric and over categorical columns (and where)."""
    out = {}
    for kind, pick in (("numeric", lambda c: not c.startswith("cat_")), ("categorical", None)):
        cols = [c for c in ours if (pick(c) if pick else c.startswith("cat_"))]
        diffs = {c: abs(ours[c] - theirs[c]) for c in cols}
        worst = max(diffs, key=diffs.get)
        out[kind] = (diffs[worst], worst)
    return out


def run_size(rows: int, args: argparse.Namespace, workdir: Path) -> dict:
    """Write the two Parquet files of one size and run every measurement on them."""
    ref, cur = workdir / f"reference_{rows}.parquet", workdir / f"current_{rows}.parquet"
    make_table(rows, 1, drifted=False).to_parquet(ref)
    make_table(rows, 2, drifted=True).to_parquet(cur)
    out = {}
    for kind in args.kinds:
        repeats = args.evidently_repeats if kind.startswith("evidently") else args.repeats
        out[kind] = measure(kind, ref, cur, repeats, args.evidently_python)
        print(
            f"  {rows:,} rows, {kind}: {_summary(out[kind])}, {out[kind]['peak_mb']:.0f} MB",
            file=sys.stderr,
        )
    return out


def report(results: dict[int, dict]) -> None:
    """Print the Markdown tables."""
    print(
        "| rows × 25 columns | measurement | CPU min / median | peak RSS"
        " | Evidently (forced) / this |"
    )
    print("|---|---|---|---|---|")
    for rows, res in results.items():
        base = min(res["evidently"]["cpu"]) if "evidently" in res else None
        for kind, m in res.items():
            ratio = f"{base / min(m['cpu']):.1f}×" if base else "—"
            print(
                f"| {rows:,} | {kind} | {_summary(m)} (n={len(m['cpu'])}) | "
                f"{m['peak_mb']:.0f} MB | {ratio} |"
            )
    print()
    print(
        "| rows | max abs diff wasserstein_norm (column) | max abs diff jensen_shannon (column) |"
    )
    print("|---|---|---|")
    for rows, res in results.items():
        if "evidently" not in res or "pure" not in res:
            continue
        diff = compare(res["pure"]["values"], res["evidently"]["values"])
        gate = compare(res["gate"]["values"], res["pure"]["values"]) if "gate" in res else None
        print(
            f"| {rows:,} | {diff['numeric'][0]:.2e} ({diff['numeric'][1]}) | "
            f"{diff['categorical'][0]:.2e} ({diff['categorical'][1]}) |"
        )
        if gate:
            print(f"|  gate vs pure | {gate['numeric'][0]:.1e} | {gate['categorical'][0]:.1e} |")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments; run a worker, or every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--evidently-repeats", type=int, default=3)
    parser.add_argument("--evidently-python", default=EVIDENTLY_PYTHON)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--worker", choices=KINDS)
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args(argv)
    if args.worker:
        ref, cur = args.paths
        if args.worker in ("gate", "pure"):
            worker_ours(ref, cur, args.repeats, whole_gate=args.worker == "gate")
        else:
            worker_evidently(ref, cur, args.repeats, forced=args.worker == "evidently")
        return
    with tempfile.TemporaryDirectory() as tmp:
        results = {rows: run_size(rows, args, Path(tmp)) for rows in args.rows}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    report(results)


if __name__ == "__main__":
    main()
