"""Data contract gate vs pandera: CPU time, peak memory and per-rule agreement of the counts.

One run builds, once per size, a delivery of ``rows`` × 19 columns (an ``order_id`` key, four
integer columns, six float columns three of which have NaN, six text columns with 3 to 30
categories, one with nulls, a boolean, a datetime and a sparse free-text coupon code), writes it
to Parquet in ``--cache`` (default ``bench/.contract``), infers the contract with our
``infer_contract`` on a clean 200,000-row table of the same generator, and injects violations
into the delivery: extra nulls in ``device``, ``weight_kg`` in grams (×1000, out of range),
unseen categories in ``country`` and ``channel``, replayed ``order_id`` keys (``--deliveries
broken clean``: also a clean delivery of a new seed, nothing injected). Then it measures:

* **ours, gate**: ``run_gate("contract", GateInputs(data_uri=..., policy_text=...))``, what
  ``quality-gates check contract`` runs (reading the Parquet file, policy, evaluation, result);
* **ours, pure**: ``validate(frame, policy)`` on the DataFrame in memory;
* **pandera**: the same contract as a ``pandera.pandas.DataFrameSchema`` (dtype, ``nullable``
  or a missing-share check, ``Check.in_range``, ``Check.isin``, ``unique`` with
  ``report_duplicates="exclude_first"``, a row-count check), ``validate(frame, lazy=True)`` so
  that every failure is collected as ours are, on the DataFrame in memory.

Every measurement is a fresh subprocess: its CPU time (``time.process_time``, every thread,
after the table is loaded and one 2000-row warm-up run) over ``--repeats`` runs, wall time as
context, and its peak resident memory (``ru_maxrss`` of the subprocess: interpreter, libraries
and the tables it holds). The counts of violating rows of every violated rule are compared
between the engines. PyDeequ needs the deequ jar from Maven Central, which this machine cannot
reach; its published throughput is quoted in ``bench/README.md`` instead.

Run: ``python bench/bench_contract.py --rows 1000000 10000000 --repeats 3 --pandera-repeats 2``
(needs ``pip install pandera`` in the environment, or ``--pandera-python`` of a virtualenv with
pandera, pandas and pyarrow); ``--worker`` is the subprocess entry.
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
import yaml

HERE = Path(__file__).resolve().parent
#: Rows of the clean table the contract is inferred from.
INFER_ROWS = 200_000
WARMUP_ROWS = 2_000
KINDS = ("gate", "pure", "pandera")
COUNTRIES = tuple(
    "DE FR IT ES NL BE AT CH PL CZ SE NO DK FI IE PT GR HU RO BG "
    "SK SI HR LT LV EE LU MT CY IS".split()
)


def make_table(rows: int, seed: int) -> pd.DataFrame:
    """The clean benchmark table: 19 columns of an order feed.

    Args:
        rows: Rows.
        seed: Seed (the key starts at ``seed * rows``, so tables of two seeds share no key).

    Returns:
        The table (text columns as pandas' default string dtype).
    """
    rng = np.random.default_rng(seed)

    def with_nan(x: np.ndarray, share: float) -> np.ndarray:
        x = x.astype(float)
        x[rng.random(rows) < share] = np.nan
        return x

    def labels(values: list[str], p=None, null_share: float = 0.0) -> pd.Series:
        arr = np.asarray(values, dtype=object)
        probs = None if p is None else np.asarray(p) / np.sum(p)
        v = arr[rng.choice(len(arr), rows, p=probs)]
        if null_share:
            v[rng.random(rows) < null_share] = None
        return pd.Series(v, dtype="str")

    coupon = pd.Series(rng.integers(0, 10**9, rows)).astype("str")
    coupon = ("CP" + coupon).where(rng.random(rows) < 0.3)
    start = np.datetime64("2024-01-01T00:00:00", "s").astype("datetime64[us]")
    seconds = np.sort(rng.integers(0, 365 * 86_400, rows)).astype("timedelta64[s]")
    zipf = 1.0 / np.arange(1, len(COUNTRIES) + 1) ** 1.1
    return pd.DataFrame(
        {
            "order_id": np.arange(seed * rows, (seed + 1) * rows, dtype=np.int64),
            "items": rng.integers(1, 20, rows),
            "customer_age": rng.integers(18, 90, rows),
            "store_no": rng.integers(1, 500, rows),
            "returns": rng.poisson(0.2, rows),
            "amount": with_nan(rng.gamma(2.0, 50.0, rows).round(2), 0.02),
            "discount": with_nan(rng.uniform(0.0, 0.5, rows).round(3), 0.10),
            "weight_kg": rng.lognormal(0.5, 0.6, rows).clip(0.05, 30.0),
            "latitude": rng.uniform(36.0, 70.0, rows),
            "longitude": rng.uniform(-10.0, 30.0, rows),
            "score": with_nan(rng.beta(2.0, 5.0, rows), 0.05),
            "channel": labels(["web", "app", "store"], p=[5, 3, 2]),
            "country": labels(list(COUNTRIES), p=zipf),
            "currency": labels(["EUR", "CHF", "SEK", "NOK", "PLN"], p=[20, 2, 1, 1, 1]),
            "device": labels(["ios", "android", "desktop", "tablet"], null_share=0.05),
            "status": labels(["new", "paid", "shipped", "delivered", "returned", "cancelled"]),
            "category": labels([f"cat_{i:02d}" for i in range(25)]),
            "vip": rng.random(rows) < 0.08,
            "created_at": start + seconds,
            "coupon_code": coupon,
        }
    )


def break_delivery(frame: pd.DataFrame, seed: int = 7) -> dict[str, int]:
    """Inject contract violations into ``frame`` in place.

    Args:
        frame: A clean table of :func:`make_table`.
        seed: Seed of the rows picked.

    Returns:
        What was injected, in rows, by violation.
    """
    rng = np.random.default_rng(seed)
    n = len(frame)
    extra_null = rng.random(n) < 0.15
    frame.loc[extra_null, "device"] = None  # the feed lost values
    frame["weight_kg"] = frame["weight_kg"] * 1000  # grams instead of kilograms
    unseen = rng.random(n) < 0.02
    frame.loc[unseen, "country"] = np.where(rng.random(int(unseen.sum())) < 0.5, "XX", "UK")
    kiosk = rng.random(n) < 0.005
    frame.loc[kiosk, "channel"] = "kiosk"
    replay = max(1, n // 1000)  # the last 0.1% of rows replay the keys of the first
    ids = frame["order_id"].to_numpy().copy()
    ids[-replay:] = ids[:replay]
    frame["order_id"] = ids
    return {
        "device nulls added": int(extra_null.sum()),
        "weight_kg scaled": n,
        "country unseen": int(unseen.sum()),
        "channel unseen": int(kiosk.sum()),
        "order_id replayed": replay,
    }


def contract_section(rows: int) -> dict:
    """Our inferred contract, with row bounds around the delivery size.

    ``infer_contract`` bounds the row count by a factor 4 around the 200,000-row table it sees;
    the benchmark's deliveries are larger, so the bounds become ``[rows / 4, rows × 4]``.

    Args:
        rows: Rows of the delivery.

    Returns:
        The ``gates.contract`` section as plain data.
    """
    from quality_gates.components.contract_gate.infer import infer_contract

    section = infer_contract(make_table(INFER_ROWS, 1))
    section["rows"] = {"min": rows // 4, "max": rows * 4}
    return section


def prepare(rows: int, cache: Path, *, broken: bool) -> tuple[Path, Path, dict]:
    """Write (once) a delivery's Parquet file and its contract YAML into ``cache``.

    Args:
        rows: Rows of the delivery.
        cache: The folder of the files.
        broken: Inject the violations of :func:`break_delivery` (else a clean delivery).

    Returns:
        The Parquet file, the policy YAML file and what was injected.
    """
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"delivery_{rows}" if broken else f"clean_{rows}"
    data, policy, meta = (cache / f"{stem}.{ext}" for ext in ("parquet", "yaml", "json"))
    if not (data.exists() and policy.exists() and meta.exists()):
        frame = make_table(rows, 2)
        injected = break_delivery(frame) if broken else {}
        frame.to_parquet(data, index=False)
        doc = {"gates": {"contract": contract_section(rows)}}
        policy.write_text(yaml.safe_dump(doc, sort_keys=False))
        meta.write_text(json.dumps(injected))
    return data, policy, json.loads(meta.read_text())


# --- pandera ------------------------------------------------------------------------------


def pandera_schema(section: dict):
    """The contract as a pandera ``DataFrameSchema``, rule for rule.

    Args:
        section: The ``gates.contract`` section as plain data.

    Returns:
        The schema: per column its dtype; ``nullable=False`` when no value may be missing, else
        a missing-share check that flags the missing rows only when their share is above the
        bound (pandera has no share-tolerant checks, see README); ``in_range`` on the range
        widened by the tolerance, as ``validate`` widens it; ``isin`` on the domain;
        ``unique`` reporting the repeats after the first; and a row-count check.
    """
    import pandera.pandas as pa

    dtypes = {
        "integer": "int64",
        "float": "float64",
        "boolean": "bool",
        "string": "str",
        "datetime": pa.DateTime,
    }
    columns = {}
    for name, c in section["columns"].items():
        checks = []
        share = c.get("max_missing_share", 0.0)
        if share > 0:

            def missing(s: pd.Series, share: float = share) -> pd.Series:
                mask = s.isna()
                return ~mask if mask.mean() > share else pd.Series(True, index=s.index)

            checks.append(pa.Check(missing, ignore_na=False, name="missing_share"))
        if c.get("min") is not None and c.get("max") is not None:
            lo, hi, tol = c["min"], c["max"], c.get("tolerance", 0.0)
            low, high = lo - tol * (hi - lo), hi + tol * (hi - lo)
            low = max(low, 0.0) if lo >= 0 else low
            checks.append(pa.Check.in_range(low, high))
        if c.get("domain") is not None:
            domain = c["domain"]
            if c["dtype"] == "boolean":
                domain = [v == "True" for v in domain]
            checks.append(pa.Check.isin(domain))
        columns[name] = pa.Column(
            dtypes[c["dtype"]],
            checks,
            nullable=share > 0,
            unique=bool(c.get("unique")),
            report_duplicates="exclude_first",
            required=c.get("required", True),
        )
    rows = section["rows"]

    def row_count(df: pd.DataFrame) -> bool:
        return rows["min"] <= len(df) <= (rows["max"] or float("inf"))

    return pa.DataFrameSchema(columns, checks=[pa.Check(row_count, name="row_count")])


def _rule(check: str) -> str:
    """Our rule kind of a pandera check name."""
    for prefix, kind in (
        ("missing_share", "missing"),
        ("not_nullable", "missing"),
        ("in_range", "range"),
        ("isin", "domain"),
        ("field_uniqueness", "unique"),
        ("row_count", "rows"),
        ("dtype", "dtype"),
        ("column_in_dataframe", "present"),
    ):
        if check.startswith(prefix):
            return kind
    return check


def pandera_counts(schema, frame: pd.DataFrame) -> dict[str, int]:
    """Validate lazily; failing rows per ``column/rule`` (the row-count rule counts 1)."""
    import pandera.pandas as pa

    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases  # one row per failing cell (or per failed table check)
        sizes = cases.groupby(["column", "check"], dropna=False, sort=False).size()
        out: dict[str, int] = {}
        for (column, check), size in sizes.items():
            key = f"{'table' if pd.isna(column) else column}/{_rule(str(check))}"
            out[key] = out.get(key, 0) + int(size)
        return out
    return {}


# --- ours ---------------------------------------------------------------------------------


def _our_rule(name: str) -> str:
    if name.startswith("row count"):
        return "table/rows"
    column, _, rule = name.partition(": ")
    for prefix, kind in (
        ("missing share", "missing"),
        ("within", "range"),
        ("in its", "domain"),
        ("unique", "unique"),
        ("present", "present"),
    ):
        if rule.startswith(prefix):
            return f"{column}/{kind}"
    return f"{column}/dtype"


def our_counts(checks) -> dict[str, int]:
    """Violating rows per ``column/rule`` of the rules ours fails or warns (row count: 1)."""
    out = {}
    for ch in checks:
        if ch.status.value in ("failed", "warned"):
            key = _our_rule(ch.name)
            out[key] = 1 if key == "table/rows" else int(ch.details.get("rows", 1))
    return out


# --- workers ------------------------------------------------------------------------------


def _timed(run, repeats: int) -> tuple[list[float], list[float], object]:
    cpu, wall, out = [], [], None
    for _ in range(repeats):
        t0, w0 = time.process_time(), time.perf_counter()
        out = run()
        cpu.append(time.process_time() - t0)
        wall.append(time.perf_counter() - w0)
    return cpu, wall, out


def _finish(cpu: list[float], wall: list[float], counts: dict[str, int], rows: int) -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"cpu": cpu, "wall": wall, "peak_mb": peak_mb, "counts": counts, "rows": rows}
    print(json.dumps(out))


def worker(kind: str, data: str, policy_path: str, repeats: int) -> None:
    """Subprocess: load, warm up, then time one engine ``repeats`` times and print JSON."""
    text = Path(policy_path).read_text()
    section = yaml.safe_load(text)["gates"]["contract"]
    warm = make_table(WARMUP_ROWS, 2)
    break_delivery(warm)
    if kind == "gate":
        from quality_gates.shared.gates.context import GateInputs
        from quality_gates.shared.gates.runner import run_gate

        with tempfile.TemporaryDirectory() as tmp:
            warm.to_parquet(Path(tmp) / "w.parquet", index=False)
            run_gate(
                "contract", GateInputs(data_uri=str(Path(tmp) / "w.parquet"), policy_text=text)
            )
        inputs = GateInputs(data_uri=data, policy_text=text, policy_source=policy_path)
        rows = len(pd.read_parquet(data, columns=["order_id"]))
        cpu, wall, result = _timed(lambda: run_gate("contract", inputs), repeats)
        if result.status.value == "error":
            raise SystemExit(f"gate error: {result.error}")
        counts = our_counts(result.checks)
    elif kind == "pure":
        from quality_gates.components.contract_gate.core import validate
        from quality_gates.components.contract_gate.policy import ContractPolicy

        policy = ContractPolicy.model_validate(section)
        frame = pd.read_parquet(data)
        rows = len(frame)
        validate(warm, policy)
        cpu, wall, ev = _timed(lambda: validate(frame, policy), repeats)
        counts = our_counts(ev.checks)
    else:
        schema = pandera_schema(section)
        frame = pd.read_parquet(data)
        rows = len(frame)
        pandera_counts(schema, warm)
        cpu, wall, counts = _timed(lambda: pandera_counts(schema, frame), repeats)
    _finish(cpu, wall, counts, rows)


def measure(kind: str, data: Path, policy: Path, repeats: int, pandera_python: str) -> dict:
    """Run one measurement in a fresh subprocess and return its JSON."""
    python = pandera_python if kind == "pandera" else sys.executable
    cmd = [python, __file__, "--worker", kind, str(data), str(policy), "--repeats", str(repeats)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-400:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report -------------------------------------------------------------------------------


def _rate(rows: int, seconds: float) -> str:
    rate = rows / seconds
    return f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.0f}k"


def report(results: dict[str, dict], injected: dict[str, dict]) -> None:
    """Print the Markdown tables: timings, then the per-rule agreement."""
    print(
        "| delivery, rows × 19 columns | measurement | CPU min / median | wall min | rows per CPU-s"
        " | rows per wall-s | peak RSS | pandera / this (CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, res in results.items():
        base = res.get("pandera", {}).get("cpu")
        for kind, m in res.items():
            if "error" in m:
                print(f"| {label} | {kind} | failed: {m['error'][-120:]} | | | | | |")
                continue
            rows = m["rows"]
            cpu, wall = min(m["cpu"]), min(m["wall"])
            ratio = f"{min(base) / cpu:.1f}×" if base else "—"
            print(
                f"| {label} | {kind} | {cpu:.2f} / {statistics.median(m['cpu']):.2f} s"
                f" (n={len(m['cpu'])}) | {wall:.2f} s | {_rate(rows, cpu)} | {_rate(rows, wall)}"
                f" | {m['peak_mb']:.0f} MB | {ratio} |"
            )
    for label, res in results.items():
        have = {k: m["counts"] for k, m in res.items() if "counts" in m}
        if not have:
            continue
        print(f"\nViolating rows per rule, {label} (injected: {injected[label]}):\n")
        print("| rule | " + " | ".join(have) + " | agree |")
        print("|---|" + "---|" * (len(have) + 1))
        keys = sorted(set().union(*(c.keys() for c in have.values())))
        for key in keys:
            values = [c.get(key, 0) for c in have.values()]
            mark = "yes" if len(set(values)) == 1 else "**no**"
            print(f"| {key} | " + " | ".join(f"{v:,}" for v in values) + f" | {mark} |")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments; run a worker, or every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pandera-repeats", type=int, default=2)
    parser.add_argument("--pandera-python", default=sys.executable)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--deliveries", nargs="+", choices=("broken", "clean"), default=["broken", "clean"]
    )
    parser.add_argument("--cache", type=Path, default=HERE / ".contract")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--worker", choices=KINDS)
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, *args.paths, args.repeats)
        return
    results, injected = {}, {}
    for delivery, rows in ((d, r) for r in args.rows for d in args.deliveries):
        label = f"{delivery}, {rows:,}"
        data, policy, injected[label] = prepare(rows, args.cache, broken=delivery == "broken")
        results[label] = {}
        for kind in args.kinds:
            repeats = args.pandera_repeats if kind == "pandera" else args.repeats
            m = measure(kind, data, policy, repeats, args.pandera_python)
            results[label][kind] = m
            done = m.get("error") or (
                f"{min(m['cpu']):.2f} CPU-s, {min(m['wall']):.2f} wall-s, {m['peak_mb']:.0f} MB"
            )
            print(f"  {label} rows, {kind}: {done}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "injected": injected}, indent=1))
    report(results, injected)


if __name__ == "__main__":
    main()
