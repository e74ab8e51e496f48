"""The data contract gate: inferred contracts, every rule over whole columns, masked examples."""

import numpy as np
import pandas as pd
import pytest

from quality_gates.components.contract_gate.core import mask_key, validate
from quality_gates.components.contract_gate.infer import infer_contract
from quality_gates.components.contract_gate.policy import ContractPolicy
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import GateInputs, run_gate


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(seed * n, (seed + 1) * n)],
            "amount": rng.gamma(2.0, 50.0, n).round(2),
            "items": rng.integers(1, 20, n),
            "channel": rng.choice(["web", "app", "store"], n),
            "vip": rng.random(n) < 0.1,
            "comment": [f"free text {i}" for i in rng.integers(0, 10**9, n)],
        }
    )


@pytest.fixture(scope="module")
def contract():
    return ContractPolicy.model_validate(infer_contract(_table(5000, 1), personal=("customer_id",)))


def _broken(statuses) -> set[str]:
    return {name for name, status in statuses if status != Status.PASSED}


def test_inferred_contract_passes_a_healthy_delivery(contract):
    assert contract.columns["customer_id"].key and contract.columns["customer_id"].unique
    assert contract.columns["channel"].domain == ["app", "store", "web"]
    assert contract.columns["comment"].domain is None  # free text is no category
    result = validate(_table(3000, 2), contract)
    assert all(c.status == Status.PASSED for c in result.checks), [
        c.message for c in result.checks if c.status != Status.PASSED
    ]


def test_every_broken_rule_is_named_with_counts_and_masked_keys(contract):
    bad = _table(3000, 3)
    bad["amount"] = bad["amount"] * 1000  # cents instead of units
    bad.loc[:9, "channel"] = "kiosk"  # a new category
    bad.loc[:29, "items"] = np.nan  # the feed lost values
    bad = pd.concat([bad, bad.iloc[:2]], ignore_index=True)  # replayed rows
    bad = bad.drop(columns=["vip"])
    result = validate(bad, contract)
    failing = {c.name.split(":")[0]: c for c in result.checks if c.status == Status.FAILED}
    assert set(failing) == {"amount", "channel", "items", "customer_id", "vip"}
    channel = failing["channel"]
    # 10 rows, and the 2 replayed ones among them.
    assert channel.details["rows"] == 12 and channel.details["share"] == pytest.approx(12 / 3002)
    assert "kiosk" not in channel.message  # a message never quotes a cell
    assert all(e.startswith("C") and set(e[1:]) == {"*"} for e in channel.details["examples"])
    assert "items: 32 of 3002 rows" in failing["items"].message
    assert "missing from the data" in failing["vip"].message
    assert result.details["tables"][0]["rows"]


def test_dtype_change_and_row_count(contract):
    bad = _table(100, 4)
    bad["items"] = bad["items"].astype(str)
    result = validate(bad, contract)
    names = {c.name: c for c in result.checks if c.status == Status.FAILED}
    assert any("items: integer" == n for n in names), names
    # The inferred row bounds are a guess: they warn; bounds the user states block.
    warned = {c.name for c in result.checks if c.status == Status.WARNED}
    assert any(n.startswith("row count") for n in warned), warned
    stated = ContractPolicy.model_validate(infer_contract(_table(5000, 1), min_rows=1000))
    failed = {c.name for c in validate(bad, stated).checks if c.status == Status.FAILED}
    assert any(n.startswith("row count") for n in failed), failed


def test_mask_key_keeps_only_the_first_character():
    assert mask_key("jane.doe@example.com") == "j" + "*" * 19 and mask_key("x") == "*"


def test_contract_for_other_columns_is_a_failure_not_a_pass(tmp_path):
    _table(200, 1).to_parquet(tmp_path / "d.parquet")
    text = (
        "gates:\n  contract:\n    columns:\n"
        "      price: {dtype: float}\n      sku: {dtype: string}\n"
    )
    result = run_gate(
        "contract", GateInputs(data_uri=str(tmp_path / "d.parquet"), policy_text=text)
    )
    assert result.status == Status.FAILED
    assert {c.name for c in result.checks if c.status == Status.FAILED} >= {
        "price: present",
        "sku: present",
    }
