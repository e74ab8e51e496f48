"""The rule engine: three-way decisions, family adjustments, exact small-count intervals."""

import numpy as np
import pytest
from scipy import stats

from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.decisions import (
    Evidence,
    adjust,
    from_binomial,
    from_normal,
    from_replicates,
    judge,
    judge_family,
    rows_needed,
)

RULE = dict(operator=">=", judge_on="interval", severity="block", on_inconclusive="block")


def test_holm_and_bh_adjusted_p_values():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted p times (m, m-1, ...), running maximum; BH: times m/rank, running minimum.
    assert adjust(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust(p, "none") == pytest.approx(p)
    assert adjust([0.9, 0.8], "holm").max() <= 1.0


@pytest.mark.parametrize(
    "est, low, high, decision",
    [
        (0.80, 0.75, 0.85, "pass"),
        (0.60, 0.55, 0.65, "fail"),
        (0.71, 0.68, 0.74, "inconclusive"),
    ],
)
def test_three_outcomes_and_what_the_policy_makes_of_them(est, low, high, decision):
    ev = Evidence(est, low, high, n=1000)
    v = judge(ev, threshold=0.7, **RULE)
    assert v.decision == decision
    expected = {"pass": Status.PASSED, "fail": Status.FAILED, "inconclusive": Status.FAILED}
    assert v.status == expected[decision]
    warn = judge(ev, threshold=0.7, **{**RULE, "on_inconclusive": "warn"})
    assert warn.status == (Status.WARNED if decision == "inconclusive" else expected[decision])
    # On the estimate there are two outcomes, whatever the interval says.
    on_est = judge(ev, threshold=0.7, **{**RULE, "judge_on": "estimate"})
    assert on_est.decision == ("pass" if est >= 0.7 else "fail")


def test_max_rules_mirror_min_rules():
    rule = {**RULE, "operator": "<="}
    assert judge(Evidence(0.05, 0.0, 0.08), threshold=0.1, **rule).decision == "pass"
    assert judge(Evidence(0.2, 0.15, 0.25), threshold=0.1, **rule).decision == "fail"
    assert judge(Evidence(0.09, 0.05, 0.13), threshold=0.1, **rule).decision == "inconclusive"


def test_an_interval_rule_without_an_interval_never_passes():
    assert judge(Evidence(0.99), threshold=0.7, **RULE).decision == "inconclusive"
    noted = Evidence(0.99, 0.98, 1.0, note="most resamples undefined")
    assert judge(noted, threshold=0.7, **RULE).decision == "inconclusive"


def test_rows_needed_scale_with_the_square_of_half_width_over_gap():
    ev = Evidence(0.75, 0.70, 0.80, n=1000)
    assert rows_needed(ev, 0.72) == int(np.ceil(1000 * (0.05 / 0.03) ** 2))
    assert rows_needed(ev, 0.75) is None  # on the threshold no sample size concludes
    # The prediction holds: a normal interval at that many rows just excludes the threshold.
    se_per_row = 0.05 / 1.959964 * np.sqrt(1000)
    n2 = rows_needed(ev, 0.72)
    wider = from_normal(0.75, se_per_row / np.sqrt(n2), confidence=0.95, n=n2)
    assert wider.low == pytest.approx(0.72, abs=1e-4)


def test_exact_binomial_interval_is_clopper_pearson_and_its_p_value_inverts_it():
    for x, n in [(0, 12), (3, 12), (12, 12), (40, 57)]:
        ev = from_binomial(x, n, confidence=0.95)
        ref = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="exact")
        assert (ev.low, ev.high) == pytest.approx((ref.low, ref.high), abs=1e-9)
        for t in np.linspace(0.02, 0.98, 25):
            inside = ev.low < t < ev.high
            assert (
                (ev.p_value(t) > 0.05) == inside
                or abs(t - ev.low) < 1e-3
                or abs(t - ev.high) < 1e-3
            )


def test_bootstrap_p_value_agrees_with_the_percentile_interval():
    rng = np.random.default_rng(1)
    reps = rng.normal(0.8, 0.02, 4000)
    ev = from_replicates(0.8, reps, confidence=0.95, n=500)
    for t in np.linspace(0.7, 0.9, 41):
        if min(abs(t - ev.low), abs(t - ev.high)) < 0.003:
            continue
        assert (ev.p_value(t) <= 0.05) == (not ev.low <= t <= ev.high)
    undefined = np.where(np.arange(4000) % 10 == 0, np.nan, reps)
    assert from_replicates(0.8, undefined, confidence=0.95, n=500).note


def _family(estimates, se=0.02):
    return [from_normal(e, se, confidence=0.95, n=2000) for e in estimates]


def test_family_of_one_is_the_single_rule():
    ev = _family([0.74])
    single = judge(ev[0], threshold=0.7, **RULE)
    fam = judge_family(ev, thresholds=[0.7], confidence=0.95, method="holm", **RULE)
    assert fam[0].decision == single.decision and fam[0].adjusted_p is None


def test_holm_concludes_less_than_no_adjustment_and_controls_false_fails():
    rng = np.random.default_rng(7)
    common = dict(thresholds=[0.7] * 10, confidence=0.95, **RULE)
    false_fail = {"holm": 0, "bh": 0, "none": 0}
    reps = 400
    for _ in range(reps):
        # Ten slices truly 0.02 above the bar, estimated with se 0.02: none truly fails.
        ev = _family(0.72 + rng.normal(0, 0.02, 10))
        verdicts = {m: judge_family(ev, method=m, **common) for m in false_fail}
        for m, vs in verdicts.items():
            false_fail[m] += any(v.decision == "fail" for v in vs)
        concluded = {
            m: {i for i, v in enumerate(vs) if v.decision != "inconclusive"}
            for m, vs in verdicts.items()
        }
        assert concluded["holm"] <= concluded["bh"] <= concluded["none"]
    assert false_fail["holm"] / reps <= 0.05
    assert false_fail["holm"] <= false_fail["none"]
    # A slice far below the bar is still shown to fail after the adjustment.
    ev = _family([0.72] * 9 + [0.55])
    vs = judge_family(ev, method="holm", **common)
    assert vs[-1].decision == "fail" and vs[-1].adjusted_p is not None
    assert all(v.decision == "inconclusive" for v in vs[:-1])
