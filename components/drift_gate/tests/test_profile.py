"""Reference profiles: the stated bound holds, verdicts equal the full table's, shards merge."""

import json

import numpy as np
import pandas as pd
import pytest

from quality_gates.components.drift_gate import cdf_grid, profile, stats
from quality_gates.components.drift_gate.columns import widened
from quality_gates.components.drift_gate.core import evaluate_drift, evaluate_drift_profile
from quality_gates.components.drift_gate.policy import DriftPolicy
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.decisions import from_replicates
from quality_gates.shared.gates.runner import GateInputs, run_gate

POLICY = DriftPolicy(
    numeric={"metric": "wasserstein_norm", "max": 0.1},
    categorical={"metric": "jensen_shannon", "max": 0.1},
    n_resamples=200,
)
SECRET = "SECRET-CELL-4711"  # a data cell no message may quote


def _table(n: int, seed: int, *, shift: float = 0.0, share_b: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),  # continuous: the CDF grid, within its bound
            "t": rng.standard_t(2, n) + shift,  # heavy tails: the widest gaps
            "y": rng.lognormal(0.0, 1.0, n).round(1),  # ties, few distinct values: exact
            "k": rng.integers(0, 5, n),
            "cat": rng.choice(["a", "b", SECRET], n, p=[0.7 - share_b, share_b, 0.3]),
        }
    )


def _round_trip(frame: pd.DataFrame, policy: DriftPolicy = POLICY) -> profile.ReferenceProfile:
    built = profile.build_profile(frame, policy, skip=set(), source={"uri": "r", "sha256": "s"})
    text = profile.to_json(built)
    assert json.loads(text)["format"] == profile.FORMAT  # plain JSON, readable
    return profile.from_json(text.encode(), uri="ref.profile.json")


@pytest.mark.parametrize(
    "draw",
    [
        lambda r, s: r.normal(s, 1.0, 200_000),
        lambda r, s: r.lognormal(s, 1.0, 200_000),
        lambda r, s: r.standard_t(2, 200_000) + s,
        lambda r, s: np.r_[r.normal(s, 1, 100_000), r.normal(40 + s, 0.1, 100_000)],
        lambda r, s: r.exponential(1.0, 150_000) ** 3 + s,
    ],
    ids=["normal", "lognormal", "t2", "bimodal", "cubed-exponential"],
)
def test_grid_distances_are_within_the_stated_bound(draw):
    rng = np.random.default_rng(7)
    ref = np.sort(draw(rng, 0.0))
    grid = cdf_grid.count_grid_sorted(ref, cdf_grid.grid_points(ref))
    w_bound, ks_bound = grid.wasserstein_bound(ref[0], ref[-1]), grid.ks_bound()
    assert not grid.exact and ks_bound <= 1.0 / cdf_grid.RANK_POINTS + 1e-12
    assert w_bound / ref.std() < 0.005  # what the gate's bounds (0.03 and up) can live with
    for shift in (0.0, 0.05, 0.5, 3.0):
        cur = np.sort(draw(rng, shift)[:50_000])
        w, ks = stats.exact_distances(ref, cur)
        wg, ksg = cdf_grid.distances(grid, cur, ref[0], ref[-1])
        assert abs(w - wg) <= w_bound + 1e-12 and abs(ks - ksg) <= ks_bound + 1e-12


def test_a_column_with_few_distinct_values_is_exact():
    rng = np.random.default_rng(3)
    ref = np.sort(rng.normal(size=100_000).round(2))
    cur = np.sort(rng.normal(0.1, 1.2, 30_000).round(1))
    grid = cdf_grid.count_grid_sorted(ref, cdf_grid.grid_points(ref))
    assert grid.exact and grid.ks_bound() == 0 and grid.wasserstein_bound(ref[0], ref[-1]) == 0
    w, ks = stats.exact_distances(ref, cur)
    wg, ksg = cdf_grid.distances(grid, cur, ref[0], ref[-1])
    assert wg == pytest.approx(w, abs=1e-12) and ksg == pytest.approx(ks, abs=1e-12)


def test_a_grid_that_misses_the_extremes_still_bounds_the_error():
    # Shards counted on the points of a sample (Spark): the min and max may lie off the grid.
    rng = np.random.default_rng(5)
    ref = np.sort(rng.normal(size=60_000))
    grid = cdf_grid.count_grid_sorted(ref, cdf_grid.grid_points(ref[1000:-1000:7]))
    cur = np.sort(rng.normal(0.3, 1.0, 20_000))
    w, ks = stats.exact_distances(ref, cur)
    wg, ksg = cdf_grid.distances(grid, cur, ref[0], ref[-1])
    assert abs(w - wg) <= grid.wasserstein_bound(ref[0], ref[-1]) + 1e-12
    assert abs(ks - ksg) <= grid.ks_bound() + 1e-12


@pytest.mark.parametrize(
    ("n", "shift", "share_b"),
    [(200_000, 0.0, 0.3), (200_000, 0.02, 0.3), (5_000, 0.4, 0.45), (300, 0.1, 0.3)],
    ids=["same", "trivial-shift", "real-shift", "small-inconclusive"],
)
def test_profile_gives_the_verdicts_of_the_full_table(n, shift, share_b):
    ref, cur = _table(n, 1), _table(n, 2, shift=shift, share_b=share_b)
    full = evaluate_drift(ref, cur, POLICY, skip=set())
    from_profile = evaluate_drift_profile(_round_trip(ref), cur, POLICY, skip=set())
    assert [c.name for c in full.checks] == [c.name for c in from_profile.checks]
    for a, b in zip(full.checks, from_profile.checks, strict=True):
        assert (a.status, a.decision) == (b.status, b.decision), (a.message, b.message)
        bound = b.details.get("wasserstein_norm_bound", 0.0)
        assert b.value == pytest.approx(a.value, abs=bound + 1e-12)
        assert b.ci_low <= a.ci_low + 1e-12 and b.ci_high >= a.ci_high - 1e-12
        for key in ("psi", "mean_shift_std", "chi2", "unseen_share"):
            if key in a.details:  # from the reference's own bins and counts: identical
                assert b.details[key] == pytest.approx(a.details[key], rel=1e-12, abs=1e-15)
    x = next(c for c in from_profile.checks if c.name.startswith("x:"))
    y = next(c for c in from_profile.checks if c.name.startswith("y:"))
    # Up to 4096 distinct values the grid is all of them: exact; above, a bound that is stated.
    exact = n <= cdf_grid.EXACT_DISTINCT
    assert (x.details["wasserstein_norm_bound"] == 0) == exact
    assert x.details["wasserstein_norm_bound"] < 0.005 and y.details["ks_bound"] == 0
    assert from_profile.details["tables"][-1]["title"] == "Reference profile"


def test_the_interval_is_widened_by_the_bound_and_the_p_value_agrees():
    reps = np.random.default_rng(0).normal(0.10, 0.01, 2000)
    base = from_replicates(0.1, reps, confidence=0.95, n=1000)
    wide = widened(base, reps, 0.01, note="from a profile", what="w")
    assert wide.low == pytest.approx(base.low - 0.01) and wide.high == pytest.approx(
        base.high + 0.01
    )
    # A threshold just above the old interval is no longer excluded by the widened one.
    t = base.high + 0.005
    assert base.p_value(t) <= 0.05 < wide.p_value(t)
    assert wide.p_value(wide.high + 0.002) <= 0.05
    assert widened(base, reps, 0.0, note="", what="w") == base


def test_a_bound_near_the_threshold_makes_the_column_inconclusive_not_failed():
    # A drifted column whose full-table interval sits just above the bound: from a coarse grid
    # (bound widened interval straddles the bound) it must not be failed on the profile alone.
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.standard_t(2, 50_000)})
    cur = pd.DataFrame({"x": rng.standard_t(2, 50_000) + 0.2})
    full = evaluate_drift(ref, cur, POLICY.model_copy(update={"categorical": None}), skip=set())
    x = full.checks[0]
    built = profile.build_profile(ref, POLICY, skip=set(), source={})
    col = built.columns["x"]
    coarse = col.grid.points[:: max(1, col.grid.points.size // 8)]  # 8 points: a wide bound
    grid = cdf_grid.count_grid(ref["x"].to_numpy(), coarse)
    policy = DriftPolicy(numeric={"max": x.ci_low * 0.98}, n_resamples=200)
    coarse_profile = profile.ReferenceProfile(
        {"x": profile.NumericProfile(col.state, grid)}, built.rows, built.settings
    )
    result = evaluate_drift_profile(coarse_profile, cur, policy, skip=set())
    exact_result = evaluate_drift(ref, cur, policy, skip=set())
    assert exact_result.checks[0].decision == "fail"
    assert result.checks[0].decision == "inconclusive"
    assert result.checks[0].details["wasserstein_norm_bound"] > 0.01


def test_profiles_of_two_shards_merge_into_the_profile_of_the_whole():
    table = _table(30_000, 4)
    table.loc[::97, "x"] = np.nan
    columns = list(table.columns)
    layout = profile.layout_of(table, columns)
    settings = profile.settings_for(POLICY)
    whole = profile.count_profile(table, layout, settings)
    merged = profile.count_profile(table.iloc[:12_345], layout, settings).merge(
        profile.count_profile(table.iloc[12_345:], layout, settings)
    )
    assert merged.rows == whole.rows
    for column in columns:
        a, b = whole.columns[column], merged.columns[column]
        if isinstance(a, profile.NumericProfile):
            assert np.array_equal(a.state.counts, b.state.counts)
            assert a.state.missing == b.state.missing and a.state.low == b.state.low
            assert np.array_equal(a.grid.at_or_below, b.grid.at_or_below)
            assert np.array_equal(a.grid.at, b.grid.at) and a.grid.n == b.grid.n
            assert np.allclose(a.state.sums, b.state.sums, rtol=1e-12, atol=1e-9)
            assert b.state.std == pytest.approx(a.state.std, rel=1e-12)
        else:
            assert a.state.categories.tolist() == b.state.categories.tolist()
            assert np.array_equal(a.state.counts, b.state.counts)
    assert merged.columns["x"].state.missing == len(table.iloc[::97])


def test_many_categories_keep_the_compared_ones_and_the_same_numbers(monkeypatch):
    monkeypatch.setattr(profile, "CATEGORY_LIMIT", 40)
    rng = np.random.default_rng(2)
    p = 1.0 / np.arange(1, 121) ** 0.7
    ids = np.array([f"id{j:03d}" for j in range(120)], dtype=object)
    ref = pd.DataFrame({"c": ids[rng.choice(120, 20_000, p=p / p.sum())]})
    cur = pd.DataFrame({"c": ids[rng.choice(120, 20_000, p=np.roll(p, 3) / p.sum())]})
    policy = POLICY.model_copy(update={"numeric": None, "max_categories": 25})
    loaded = _round_trip(ref, policy)
    kept = loaded.columns["c"]
    assert kept.state.categories.size == 25 and kept.rest_distinct == 95
    full = evaluate_drift(ref, cur, policy, skip=set()).checks[0]
    from_profile = evaluate_drift_profile(loaded, cur, policy, skip=set()).checks[0]
    assert from_profile.value == full.value and from_profile.status == full.status
    assert from_profile.ci_low == full.ci_low and from_profile.details["psi"] == full.details["psi"]
    assert from_profile.details["unseen_share_at_most"] >= full.details["unseen_share"]


# --------------------------------------------------------------------------------------------
# Through the registry: a profile file as the reference, and its bad inputs


def _files(tmp_path, *, policy_extra: str = ""):
    ref, cur = _table(4_000, 1), _table(4_000, 2)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    text = (
        "gates:\n  drift:\n    n_resamples: 200\n    numeric: {max: 0.1}\n"
        "    categorical: {max: 0.1}\n" + policy_extra
    )
    built = profile.build_profile(ref, DriftPolicy(), skip=set(), source={"uri": "ref.parquet"})
    (tmp_path / "ref.profile.json").write_text(profile.to_json(built))
    return text


def _run(tmp_path, text: str, reference: str):
    return run_gate(
        "drift",
        GateInputs(
            data_uri=str(tmp_path / "cur.parquet"), reference_data_uri=reference, policy_text=text
        ),
    )


def test_a_profile_file_is_the_reference_and_its_digest_recorded(tmp_path):
    text = _files(tmp_path)
    by_table = _run(tmp_path, text, str(tmp_path / "ref.parquet"))
    by_profile = _run(tmp_path, text, str(tmp_path / "ref.profile.json"))
    assert by_table.status == by_profile.status == Status.PASSED, by_profile.error
    data = (tmp_path / "ref.profile.json").read_bytes()
    assert by_profile.inputs["reference_data"] == profile.digest_of(data)
    assert by_table.inputs["reference_data"] != by_profile.inputs["reference_data"]
    # A KFP artifact has no extension: told apart by its content, not its name.
    (tmp_path / "artifact").write_bytes(data)
    by_artifact = _run(tmp_path, text, str(tmp_path / "artifact"))
    assert by_artifact.status == Status.PASSED
    assert by_artifact.inputs["reference_data"] == profile.digest_of(data)
    assert [c.value for c in by_artifact.checks] == [c.value for c in by_profile.checks]


def _edit(tmp_path, change) -> str:
    doc = json.loads((tmp_path / "ref.profile.json").read_text())
    change(doc)
    path = tmp_path / "edited.profile.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize(
    ("change", "policy_extra", "named"),
    [
        (lambda d: d.update(schema_version=99), "", "schema_version 99"),
        (lambda d: d["settings"].update(max_categories=50), "", "max_categories 50"),
        (lambda d: d["settings"].update(fine_bins=20), "", "fine_bins 20"),
        (lambda d: d.pop("format"), "", "not a drift reference profile"),
        (lambda d: d["columns"]["x"]["bins"].pop("sums"), "", "missing key 'sums'"),
        (lambda d: d["columns"]["cat"]["counts"].append(1), "", "column 'cat'"),
        (lambda d: None, "    columns: [x, nope]\n", "reference profile"),
        (lambda d: d["columns"].update(z=d["columns"]["x"]), "", "current data lacks 1 column"),
    ],
    ids=[
        "schema",
        "max-categories",
        "bins",
        "not-a-profile",
        "missing-key",
        "inconsistent",
        "listed-column",
        "other-columns",
    ],
)
def test_bad_profiles_are_one_line_errors_without_data(tmp_path, change, policy_extra, named):
    text = _files(tmp_path, policy_extra=policy_extra)
    result = _run(tmp_path, text, _edit(tmp_path, change))
    assert result.status == Status.ERROR and named in result.error, result.error
    assert "\n" not in result.error and SECRET not in result.error
    assert (
        "quality-gates" in result.error
        or "lacks" in result.error
        or "pass a profile" in (result.error)
    )


def test_a_profile_that_is_not_json_is_an_error(tmp_path):
    text = _files(tmp_path)
    (tmp_path / "broken.json").write_text('{"format": "kfp-quality-gates.drift-profile", ' + SECRET)
    result = _run(tmp_path, text, str(tmp_path / "broken.json"))
    assert result.status == Status.ERROR and "not valid JSON" in result.error
    assert SECRET not in result.error
    with pytest.raises(GateInputError, match="does not exist"):
        profile.read_reference(str(tmp_path / "missing.profile.json"), tracking_uri=None)
