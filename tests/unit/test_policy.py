import pytest

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.demo.run import demo_policy_text
from quality_gates.shared.policy.schema import load_policy, parse_policy, policy_digest

GOOD = """
version: 1
data: {label: y, exclude: [id]}
gates:
  performance:
    rules:
      - {metric: roc_auc, min: 0.7, rationale: because}
      - {metric: brier, max: 0.2, severity: warn}
    slices:
      - {column: region, metric: recall, min: 0.5, min_size: 30}
    champion:
      rules: [{metric: roc_auc, margin: 0.01}]
"""


def test_valid_policy_parses_with_directions_and_defaults():
    p = parse_policy(GOOD)
    perf = p.gates.performance
    assert perf.rules[0].operator == ">=" and perf.rules[0].threshold == 0.7
    assert perf.rules[1].operator == "<=" and perf.rules[1].severity == "warn"
    assert perf.rules[0].rationale == "because"
    assert perf.slices[0].min_size == 30
    assert perf.champion.alias == "production"
    assert p.data.label == "y" and p.data.exclude == ["id"]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("gates: {performance: {rulez: []}}", "gates.performance.rulez"),
        (
            "gates: {performance: {rules: [{metric: roc_auc, min: abc}]}}",
            "gates.performance.rules.0.min",
        ),
        (
            "gates: {performance: {rules: [{metric: auc, min: 0.5}]}}",
            "gates.performance.rules.0.metric",
        ),
        ("gates: {performance: {rules: [{metric: roc_auc}]}}", "exactly one of 'min' or 'max'"),
        ("gates: {performance: {rules: [{metric: roc_auc, min: 0.1, max: 0.9}]}}", "exactly one"),
        (
            "gates: {performance: {rules: [{metric: roc_auc, min: 0.5, severity: fatal}]}}",
            "gates.performance.rules.0.severity",
        ),
        ("gates: {fairnes: {}}", "gates.fairnes"),
        ("version: 2", "version"),
        ("datta: {}", "datta"),
        (
            "gates: {performance: {slices: [{metric: recall, min: 0.5}]}}",
            "gates.performance.slices.0.column",
        ),
        ("gates: {performance: {champion: {n_resamples: 5}}}", "n_resamples"),
    ],
)
def test_bad_policy_names_the_key_path(text, fragment):
    with pytest.raises(GateInputError) as exc:
        parse_policy(text, source="p.yaml")
    msg = str(exc.value)
    assert fragment in msg
    assert "p.yaml" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("text", ["", "   ", "- a\n- b", "gates: [oops", "42"])
def test_empty_or_non_mapping_policy_is_rejected(text):
    with pytest.raises(GateInputError):
        parse_policy(text)


def test_yaml_syntax_error_gives_line():
    with pytest.raises(GateInputError, match="line"):
        parse_policy("gates:\n  performance: {rules: [\n")


def test_load_policy_missing_file(tmp_path):
    with pytest.raises(GateInputError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")


def test_digest_changes_with_any_byte():
    assert policy_digest(GOOD) == policy_digest(GOOD)
    assert policy_digest(GOOD) != policy_digest(GOOD.replace("0.7", "0.71"))
    assert policy_digest(GOOD).startswith("sha256:")


def test_demo_policy_is_valid():
    p = parse_policy(demo_policy_text())
    assert p.gates.performance.rules and p.gates.performance.champion.rules
    assert all(r.rationale for r in p.gates.performance.rules)


def test_duplicate_key_is_refused_with_its_line():
    # YAML keeps the last of two equal keys: the strict first section would vanish silently.
    text = (
        "data: {label: y}\n"
        "gates:\n"
        "  performance: {rules: [{metric: roc_auc, min: 0.99}]}\n"
        "  performance: {rules: [{metric: roc_auc, min: 0.1}]}\n"
    )
    with pytest.raises(GateInputError) as err:
        parse_policy(text, source="p.yaml")
    msg = str(err.value)
    assert "'performance' twice" in msg and "line 4" in msg and "p.yaml" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("bound", ["min: .nan", "min: -.inf", "max: .inf"])
def test_nan_and_infinite_thresholds_are_refused(bound):
    with pytest.raises(GateInputError, match="finite number"):
        parse_policy(f"gates: {{performance: {{rules: [{{metric: accuracy, {bound}}}]}}}}")


@pytest.mark.parametrize(
    "rule, needle",
    [
        (
            "{metric: roc_auc, min: 1.5}",
            "min 1.5 of 'roc_auc' is outside the metric's range [0, 1]",
        ),
        ("{metric: accuracy, max: -0.2}", "max -0.2 of 'accuracy'"),
        ("{metric: brier, max: 20}", "'brier'"),
        ("{metric: rmse, max: -1}", "range [0, inf]"),
        ("{metric: r2, min: 1.2}", "range [-inf, 1]"),
    ],
)
def test_threshold_outside_the_metric_range_is_refused(rule, needle):
    with pytest.raises(GateInputError) as err:
        parse_policy(f"gates: {{performance: {{rules: [{rule}], slices: []}}}}")
    assert needle in str(err.value) and "gates.performance.rules.0" in str(err.value)


def test_thresholds_inside_the_range_are_kept():
    p = parse_policy(
        "gates: {performance: {rules: [{metric: rmse, max: 3000}, {metric: r2, min: -0.5}, "
        "{metric: roc_auc, min: 0}, {metric: recall, min: 1}, {metric: brier, max: 1.5}]}}"
    )
    # A multiclass Brier score sums over classes, so it may reach 2.
    assert [r.threshold for r in p.gates.performance.rules] == [3000, -0.5, 0, 1, 1.5]


def test_slice_threshold_outside_the_range_is_refused():
    with pytest.raises(GateInputError, match="gates.performance.slices.0"):
        parse_policy(
            "gates: {performance: {rules: [{metric: recall, min: 0.5}], "
            "slices: [{column: r, metric: recall, min: 50}]}}"
        )


@pytest.mark.parametrize(
    "rule",
    [
        "{metric: demographic_parity_ratio, min: 80}",
        "{metric: equalized_odds_difference, max: -0.1}",
    ],
)
def test_fairness_bound_outside_zero_one_is_refused(rule):
    text = f"gates: {{fairness: {{sensitive_features: [s], rules: [{rule}]}}}}"
    with pytest.raises(GateInputError, match=r"outside the disparity's range \[0, 1\]"):
        parse_policy(text)


def test_policy_path_that_is_a_directory_or_not_utf8(tmp_path):
    with pytest.raises(GateInputError, match="is a directory; pass the path of the policy YAML"):
        load_policy(tmp_path)
    bad = tmp_path / "p.yaml"
    bad.write_bytes(b"\xff\xfegates: {}\n")
    with pytest.raises(GateInputError, match="not UTF-8"):
        load_policy(bad)


def test_merge_keys_and_anchors_still_work_with_the_duplicate_check():
    # `<<` merges a mapping in; an explicit key after it overrides, as YAML defines.
    text = (
        "data: {label: y}\n"
        "gates:\n"
        "  performance:\n"
        "    <<: {n_resamples: 50, seed: 3}\n"
        "    seed: 4\n"
        "    rules: &r [{metric: roc_auc, min: 0.6}]\n"
    )
    perf = parse_policy(text).gates.performance
    assert (perf.n_resamples, perf.seed) == (50, 4)
