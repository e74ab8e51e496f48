"""Benchmark: what `quality-gates run` and `quality-gates check all` cost end to end, in CPU-s.

Issue 14 ("wasted time") measures the two commands a user runs, as that user runs them: a
subprocess, a fresh MLflow registry (sqlite in a new temporary folder) holding the demo champion
under ``production``, the demo policy, the demo candidate model and demo-schema data.

* ``quality-gates run`` (the whole pipeline through kfp.local) at ``--run-rows`` evaluation rows
  (default 100k);
* ``quality-gates check all`` (every configured gate in one process) at ``--check-rows``
  evaluation rows (default 1M).

The models are trained once on 20k rows of :func:`make_credit_data` (seed 0) and cached with the
data in ``--work`` (default ``bench/.overhead``); the evaluation tables use seed 1 and the
training table passed as ``--train-data`` (scanned by the PII gate) is that 20k-row set. Neither
the caching nor the registry set-up is timed.

Reported per command: process CPU seconds of the command and everything it started (the
``RUSAGE_CHILDREN`` delta: user + system; kfp.local tasks are waited-for grandchildren, so they
count) and wall seconds, min and median over ``--repeat`` runs. The machine is shared and noisy:
CPU time is the figure to compare, wall time is context.

    python bench/bench_overhead.py [--repeat 3] [--run-rows 100000] [--check-rows 1000000]
                                   [--only run|check] [--profile-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN_ROWS = 20_000


def _exe() -> str:
    """The ``quality-gates`` console script of the running interpreter's environment."""
    exe = Path(sys.executable).parent / "quality-gates"
    return str(exe) if exe.exists() else "quality-gates"


def prepare(work: Path, rows: list[int]) -> dict[str, Path]:
    """Write the training table, the models and one evaluation table per row count, once."""
    import joblib

    from quality_gates.shared.demo.data import make_credit_data, train_models
    from quality_gates.shared.demo.run import demo_policy_text

    work.mkdir(parents=True, exist_ok=True)
    paths = {"train": work / "train.parquet", "policy": work / "policy.yaml"}
    paths["policy"].write_text(demo_policy_text(), encoding="utf-8")
    if not paths["train"].exists():
        make_credit_data(n_rows=TRAIN_ROWS, seed=0).to_parquet(paths["train"], index=False)
    for role in ("champion", "candidate"):
        paths[role] = work / f"{role}.joblib"
    if not (paths["champion"].exists() and paths["candidate"].exists()):
        import pandas as pd

        models = train_models(pd.read_parquet(paths["train"]), seed=0)
        for role in ("champion", "candidate"):
            joblib.dump(models[role], paths[role])
    for n in rows:
        p = paths[f"eval{n}"] = work / f"eval_{n}.parquet"
        if not p.exists():
            make_credit_data(n_rows=n, seed=1).to_parquet(p, index=False)
    return paths


def fresh_registry(home: Path, champion: Path) -> str:
    """A new sqlite registry in ``home`` with the champion registered at ``production``.

    Runs in a subprocess so that this process never holds MLflow state between repeats.
    """
    uri = f"sqlite:///{home / 'mlflow.db'}"
    code = (
        "import sys; from pathlib import Path; "
        "from quality_gates.shared.demo.run import ensure_champion; "
        "ensure_champion(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])"
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    subprocess.run(
        [sys.executable, "-c", code, str(home), str(champion), uri],
        check=True,
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
    )
    return uri


def command(kind: str, paths: dict[str, Path], rows: int, uri: str, home: Path) -> list[str]:
    """The exact command line a user would type."""
    common = [
        "--model", str(paths["candidate"]),
        "--data", str(paths[f"eval{rows}"]),
        "--train-data", str(paths["train"]),
        "--reference-data", str(paths["train"]),  # the demo policy's drift gate
        "--policy", str(paths["policy"]),
        "--registered-model-name", "credit-risk",
        "--tracking-uri", uri,
    ]  # fmt: skip
    if kind == "run":
        return [_exe(), "run", *common, "--output-dir", str(home / "out"), "--json"]
    return [_exe(), "check", "all", *common, "--json"]


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_once(kind: str, paths: dict[str, Path], rows: int, profile_dir: Path | None) -> dict:
    """One timed run in a fresh temporary MLflow home; returns CPU-s, wall-s and exit code."""
    home = Path(tempfile.mkdtemp(prefix=f"qg-bench-{kind}-"))
    try:
        uri = fresh_registry(home, paths["champion"])
        cmd = command(kind, paths, rows, uri, home)
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            prof = profile_dir / f"{kind}-{rows}.prof"
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *cmd]
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": uri,
            "HOME": str(home),  # a newcomer: no ~/.mlflow, ~/.cache or ~/.config of ours
        }
        cpu0, wall0 = _cpu_children(), time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=home, capture_output=True, text=True)
        wall = time.perf_counter() - wall0
        cpu = _cpu_children() - cpu0
        if proc.returncode not in (0, 1):
            sys.stderr.write(proc.stderr[-3000:])
        return {"cpu": cpu, "wall": wall, "rc": proc.returncode, "out": proc.stdout}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _decision(stdout: str) -> str:
    import json

    try:
        return json.loads(stdout).get("decision", "?")
    except ValueError:
        return "?"


def main() -> None:
    """Parse the options, prepare the inputs once and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--run-rows", type=int, default=100_000)
    p.add_argument("--check-rows", type=int, default=1_000_000)
    p.add_argument("--only", choices=["run", "check"])
    p.add_argument("--work", type=Path, default=HERE / ".overhead")
    p.add_argument("--profile-dir", type=Path, help="run the command under cProfile into DIR")
    args = p.parse_args()
    plan = [("run", args.run_rows), ("check", args.check_rows)]
    plan = [(k, n) for k, n in plan if args.only in (None, k)]
    paths = prepare(args.work, sorted({n for _, n in plan}))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, repeat {args.repeat}")
    print(f"{'command':<28} {'rows':>9} {'CPU-s min':>10} {'median':>8} {'wall min':>9} "
          f"{'median':>8}  exit/decision")  # fmt: skip
    for kind, rows in plan:
        runs = [time_once(kind, paths, rows, args.profile_dir) for _ in range(args.repeat)]
        cpu = [r["cpu"] for r in runs]
        wall = [r["wall"] for r in runs]
        label = "quality-gates run" if kind == "run" else "quality-gates check all"
        outcome = ",".join(f"{r['rc']}/{_decision(r['out'])}" for r in runs)
        print(
            f"{label:<28} {rows:>9} {min(cpu):>10.1f} {statistics.median(cpu):>8.1f} "
            f"{min(wall):>9.1f} {statistics.median(wall):>8.1f}  {outcome}",
            flush=True,
        )


if __name__ == "__main__":
    main()
