import pytest

from quality_gates.shared.demo import demo_policy_text
from quality_gates.shared.errors import GateInputError
from quality_gates.shared.policy import load_policy, parse_policy, policy_digest

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
