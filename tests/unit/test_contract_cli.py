"""`quality-gates contract infer` then `check contract`: the CLI round trip of a data contract."""

import numpy as np
import pandas as pd
import yaml

from quality_gates.shared.cli.main import main


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "order_id": np.arange(seed * n, (seed + 1) * n),
            "amount": rng.gamma(2.0, 50.0, n).round(2),
            "channel": rng.choice(["web", "app", "store"], n),
        }
    )


def test_cli_infer_then_check(tmp_path, capsys):
    _table(4000, 1).to_parquet(tmp_path / "trusted.parquet")
    _table(2000, 5).to_parquet(tmp_path / "new.parquet")
    out = tmp_path / "contract.yaml"
    assert (
        main(["contract", "infer", "--data", str(tmp_path / "trusted.parquet"), "--out", str(out)])
        == 0
    )
    doc = yaml.safe_load(out.read_text())
    assert set(doc["gates"]["contract"]["columns"]) == set(_table(1, 1).columns)
    assert out.read_text().startswith("# Data contract inferred from")
    policy = tmp_path / "policy.yaml"
    policy.write_text(out.read_text())
    argv = ["check", "contract", "--data", str(tmp_path / "new.parquet"), "--policy", str(policy)]
    assert main(argv) == 0
    bad = _table(2000, 6)
    bad["amount"] = -bad["amount"]
    bad.to_parquet(tmp_path / "bad.parquet")
    capsys.readouterr()
    assert main([*argv[:3], str(tmp_path / "bad.parquet"), *argv[4:]]) == 1
    assert "amount" in capsys.readouterr().out
    assert main(["contract", "infer", "--data", str(tmp_path / "nope.parquet")]) == 2


def test_inferred_row_bounds_warn_and_given_ones_block(tmp_path, capsys):
    """A sample a tenth of the trusted table's size is not a broken feed unless the user says so."""
    _table(4000, 1).to_parquet(tmp_path / "trusted.parquet")
    _table(400, 5).to_parquet(tmp_path / "sample.parquet")
    infer = ["contract", "infer", "--data", str(tmp_path / "trusted.parquet"), "--out"]
    check = ["check", "contract", "--data", str(tmp_path / "sample.parquet"), "--policy"]
    guessed, stated = tmp_path / "guessed.yaml", tmp_path / "stated.yaml"
    assert main([*infer, str(guessed)]) == 0
    rows = yaml.safe_load(guessed.read_text())["gates"]["contract"]["rows"]
    assert rows == {"min": 1000, "max": 16000, "severity": "warn"}
    assert main([*check, str(guessed)]) == 0  # warned, not refused
    assert main([*infer, str(stated), "--min-rows", "1000"]) == 0
    rows = yaml.safe_load(stated.read_text())["gates"]["contract"]["rows"]
    assert rows == {"min": 1000, "max": None, "severity": "block"}
    capsys.readouterr()
    assert main([*check, str(stated)]) == 1
    assert "rows" in capsys.readouterr().out
    assert main([*infer, str(stated), "--min-rows", "10", "--max-rows", "5"]) == 2
    assert "above --max-rows" in capsys.readouterr().err
