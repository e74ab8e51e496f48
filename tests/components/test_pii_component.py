"""The PII scan gate component run for real through kfp.local (SubprocessRunner, no venv)."""

from pathlib import Path

import pytest
from kfp import dsl, local

from quality_gates.components.pii_scan_gate.component import pii_scan_gate
from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.demo.data import make_credit_data

POLICY = "gates:\n  pii:\n    min_confidence: 0.5\n"


@pytest.fixture
def kfp_local(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


@pytest.fixture
def demo_data(tmp_path):
    clean = tmp_path / "clean.parquet"
    leaky = tmp_path / "leaky.parquet"
    make_credit_data(n_rows=2000, seed=3).to_parquet(clean)
    make_credit_data(n_rows=2000, seed=3, pii_rate=0.05).to_parquet(leaky)
    return clean, leaky


def test_component_passes_clean_and_fails_leaky_data(demo_data, kfp_local):
    clean, leaky = demo_data
    ok = pii_scan_gate(data_uri=str(clean), train_data_uri=str(clean), policy=POLICY)
    assert ok.outputs["Output"] is True
    result = GateResult.from_json(Path(ok.outputs["verdict"].path).read_text())
    assert result.status == Status.PASSED and "train_data" in result.inputs
    assert ok.outputs["metrics"].metadata["pii_cells"] == 0.0

    bad = pii_scan_gate(data_uri=str(leaky), policy=POLICY)
    assert bad.outputs["Output"] is False
    verdict = bad.outputs["verdict"]
    assert verdict.metadata["status"] == "failed"
    html = Path(bad.outputs["report"].path).read_text()
    md = Path(bad.outputs["report_md"].path).read_text()
    assert "@example.com" not in html + md + Path(verdict.path).read_text()
    assert "***@e***.com" in html and "notes" in md


def test_optional_report_input_is_scanned(demo_data, kfp_local, tmp_path):
    """An upstream gate's HTML report is an optional Input[HTML]; a leak in it blocks."""
    clean, _ = demo_data
    leaked = tmp_path / "perf.html"
    leaked.write_text("<html><td>slice</td><td>jane.doe@example.org</td></html>")

    @dsl.pipeline
    def scan_with_report(data_uri: str, policy: str) -> bool:
        imp = dsl.importer(artifact_uri=str(leaked), artifact_class=dsl.HTML)
        task = pii_scan_gate(data_uri=data_uri, policy=policy, performance_report=imp.output)
        return task.outputs["Output"]

    run = scan_with_report(data_uri=str(clean), policy=POLICY)
    assert run.outputs["Output"] is False
