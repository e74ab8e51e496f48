"""A policy's YAML is bounded before it is built: no alias bomb, no multi-megabyte document.

An unbounded loader expands nested aliases ("billion laughs") into 10**9 values, for minutes,
until the process dies with MemoryError; and a validation error used to quote the whole value.
"""

from __future__ import annotations

import pytest

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.policy import schema
from quality_gates.shared.policy.schema import parse_policy


def _bomb(levels: int = 9, width: int = 10) -> str:
    """``width ** levels`` values from a few hundred bytes (10**9 here)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"gates: {{performance: {{rules: *a{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_built():
    text = _bomb()
    assert len(text) < 1000
    with pytest.raises(GateInputError) as info:
        parse_policy(text, source="bomb.yaml")
    message = str(info.value)
    assert "bomb.yaml" in message and str(schema.MAX_POLICY_NODES) in message
    assert "alias" in message and "\n" not in message and len(message) < 300


def test_a_bomb_under_a_mapping_merge_is_refused():
    text = (
        "a: &a {x: 1, y: 2, z: 3}\n"
        + "".join(
            f"b{i}: &b{i} [{', '.join([f'*b{i - 1}' if i else '*a'] * 10)}]\n" for i in range(8)
        )
        + "name: *b7\n"
    )
    with pytest.raises(GateInputError, match="alias"):
        parse_policy(text)


def test_too_many_alias_uses_are_refused():
    text = "x: &x lol\nname: [" + ", ".join(["*x"] * (schema.MAX_POLICY_ALIASES + 1)) + "]\n"
    with pytest.raises(GateInputError) as info:
        parse_policy(text)
    assert str(schema.MAX_POLICY_ALIASES) in str(info.value)


def test_a_recursive_alias_is_refused():
    with pytest.raises(GateInputError, match="refers to itself"):
        parse_policy("a: &a [*a]\n")


def test_an_oversized_document_is_refused_naming_the_limit():
    text = "name: '" + "x" * (schema.MAX_POLICY_BYTES + 1) + "'\n"
    with pytest.raises(GateInputError) as info:
        parse_policy(text)
    assert str(schema.MAX_POLICY_BYTES) in str(info.value) and "xxxxxxxxxx" not in str(info.value)


def test_a_validation_error_never_embeds_a_whole_value():
    value = "[" + ", ".join([f"'value-{i:05d}'" for i in range(5000)]) + "]"
    with pytest.raises(GateInputError) as info:
        parse_policy(f"name: {value}\n")
    message = str(info.value)
    assert "'name'" in message and len(message) < 300 and "value-04999" not in message
    with pytest.raises(GateInputError) as info:
        parse_policy("name: " + "y" * 5000 + "\ngates: {performance: {rules: []}}\nversion: 7\n")
    assert "y" * 100 not in str(info.value)


def test_a_large_legal_policy_with_aliases_still_loads():
    rule = "      - {metric: roc_auc, min: *bar, rationale: *why}\n"
    text = (
        "data: {label: y}\n"
        "name: &why large policy with many rules and shared values written once as anchors\n"
        "gates:\n  performance:\n    n_resamples: &n 200\n    rules:\n"
        "      - {metric: accuracy, min: &bar 0.6}\n" + rule * 3000
    )
    assert len(text) > 150_000
    policy = parse_policy(text)
    assert len(policy.gates.performance.rules) == 3001
    assert policy.gates.performance.rules[-1].rationale.startswith("large policy")
