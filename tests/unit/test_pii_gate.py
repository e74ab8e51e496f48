"""The PII gate end to end on real files and a real sklearn model: verdicts, policy, no leaks."""

import json
import logging

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.demo.data import make_credit_data
from quality_gates.shared.gates.runner import check
from quality_gates.shared.policy.schema import parse_policy
from quality_gates.shared.reports.render import gate_report_html, gate_report_markdown


def run_pii_gate(*, data_uris, artifact_paths=(), **kw):
    """Training data first, evaluation data last, as the CLI and the component pass them."""
    *train, data = data_uris
    return check(
        "pii",
        train_data_uri=train[0] if train else None,
        data_uri=data,
        artifact_paths=tuple(artifact_paths),
        **kw,
    )


def parse_section(text, source):
    return parse_policy(text, source=source).gates.pii


POLICY = """
gates:
  pii:
    rationale: personal data must not reach a model or its reports
{extra}
"""

RAW = {
    "email": "jane.doe@example.org",
    "phone": "+44 20 7946 0958",
    "ssn": "234-56-7891",
    "card": "4012 8888 8888 1881",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "ip": "81.2.69.160",
    "name": "Jane Doe",
    "dob": "1984-03-12",
}


def _policy(extra: str = "") -> str:
    return POLICY.format(extra=extra)


def _leaky_frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    notes = np.array(["all fine"] * n, dtype=object)
    notes[3] = f"contact {RAW['email']} or {RAW['phone']}"
    notes[7] = f"SSN: {RAW['ssn']}, paid with {RAW['card']}"
    notes[9] = f"IBAN {RAW['iban']} from {RAW['ip']}"
    return pd.DataFrame(
        {
            "applicant_id": [f"A{i:06d}" for i in range(n)],
            "income": rng.normal(50_000, 1000, n),
            "full_name": [RAW["name"]] + ["Sam Smith"] * (n - 1),
            "dob": [RAW["dob"]] + ["1990-01-01"] * (n - 1),
            "notes": notes,
            "default": rng.integers(0, 2, n),
        }
    )


@pytest.fixture
def demo_files(tmp_path):
    clean = make_credit_data(n_rows=3000, seed=1, pii_rate=0.0)
    leaky = make_credit_data(n_rows=3000, seed=1, pii_rate=0.05)
    clean.to_parquet(tmp_path / "clean.parquet")
    leaky.to_parquet(tmp_path / "leaky.parquet")
    return tmp_path / "clean.parquet", tmp_path / "leaky.parquet"


def test_demo_clean_passes_and_leaky_notes_fail(demo_files):
    clean, leaky = demo_files
    ok = run_pii_gate(data_uris=[str(clean), str(clean)], policy_text=_policy())
    assert ok.status == Status.PASSED, ok.summary
    assert ok.inputs["data"].startswith("sha256:") and ok.inputs["train_data"] == ok.inputs["data"]
    assert ok.inputs["policy"].startswith("sha256:")
    bad = run_pii_gate(data_uris=[str(clean), str(leaky)], policy_text=_policy())
    assert bad.status == Status.FAILED
    failing = [c for c in bad.checks if c.status == Status.FAILED]
    assert [c.name for c in failing] == ["evaluation data: column notes"]
    assert bad.metrics["pii_cells_email"] > 100 and bad.metrics["pii_columns_flagged"] == 1
    assert bad.inputs["train_data"] != bad.inputs["data"]


def test_every_entity_and_context_column_found(tmp_path):
    path = tmp_path / "leaky.csv"
    _leaky_frame().to_csv(path, index=False)
    r = run_pii_gate(data_uris=["", str(path)], policy_text=_policy())
    assert r.status == Status.FAILED
    found = {c.name: c.value for c in r.checks}
    assert found["evaluation data: column notes"] == 3
    assert found["evaluation data: column full_name"] == 200
    assert found["evaluation data: column dob"] == 200
    for entity in ("email", "phone", "ssn", "credit_card", "iban", "ipv4"):
        assert r.metrics[f"pii_cells_{entity}"] == 1, entity
    assert "train_data" not in r.inputs


def test_allow_list_and_thresholds(tmp_path):
    path = tmp_path / "leaky.csv"
    _leaky_frame().to_csv(path, index=False)
    extra = """    max_findings: 3
    allow:
      - {column: full_name, rationale: "names of staff, published on the website"}
      - {column: dob, entities: [date_of_birth], rationale: "synthetic test persons"}
"""
    r = run_pii_gate(data_uris=[str(path)], policy_text=_policy(extra))
    assert r.status == Status.PASSED, r.summary
    assert r.metrics["pii_allowed_cells"] == 400
    allowed = next(t for t in r.details["tables"] if t["title"] == "Allowed by policy")
    assert {row[1] for row in allowed["rows"]} == {"full_name", "dob"}
    warn = run_pii_gate(data_uris=[str(path)], policy_text=_policy("    severity: warn"))
    assert warn.status == Status.WARNED and warn.passed
    only_email = run_pii_gate(data_uris=[str(path)], policy_text=_policy("    entities: [email]"))
    assert only_email.metrics["pii_cells"] == 1


def test_sampling_is_stated(demo_files):
    _, leaky = demo_files
    r = run_pii_gate(data_uris=[str(leaky)], policy_text=_policy("    sample_rows: 500"))
    assert r.metrics["rows_scanned"] == 500
    scanned = next(t for t in r.details["tables"] if t["title"] == "What was scanned")
    assert "random sample of 500 rows" in scanned["rows"][0][4]
    assert r.status == Status.FAILED  # 5 % of rows leak: a 500-row sample sees them


def test_model_feature_names_and_artifacts_are_scanned(tmp_path):
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 1, 0, 1]})
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    X = pd.DataFrame({"age": [1.0, 2, 3, 4], f"contact_{RAW['email']}": [0.0, 1, 0, 1]})
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    joblib.dump(model, tmp_path / "m.joblib")
    report = tmp_path / "performance.html"
    report.write_text(f"<html><td>{RAW['card']}</td><img src='data:image/png;base64,QUJD'></html>")
    r = run_pii_gate(
        data_uris=[str(data)],
        policy_text=_policy(),
        model_uri=str(tmp_path / "m.joblib"),
        artifact_paths=[str(report)],
    )
    assert r.status == Status.FAILED
    checks = {c.name: c for c in r.checks}
    assert checks["model feature names"].value == 1
    assert checks["pipeline artifacts"].value == 1
    assert r.inputs["model"].startswith("sha256:")
    clean = tmp_path / "clean.md"
    clean.write_text(
        "roc_auc 0.81 >= 0.7 passed; model models:/credit-risk/3; 2026-01-01T12:30:45Z"
    )
    ok = run_pii_gate(data_uris=[str(data)], policy_text=_policy(), artifact_paths=[str(clean)])
    assert ok.status == Status.PASSED, ok.summary


def test_no_raw_value_anywhere(tmp_path, caplog):
    """The hard requirement: found values never appear in the verdict, reports or logs."""
    path = tmp_path / "leaky.csv"
    _leaky_frame().to_csv(path, index=False)
    X = pd.DataFrame({"age": [1.0, 2, 3, 4], RAW["email"]: [0.0, 1, 0, 1]})
    joblib.dump(LogisticRegression().fit(X, [0, 1, 0, 1]), tmp_path / "m.joblib")
    report = tmp_path / "r.md"
    report.write_text(f"| slice | {RAW['phone']} | {RAW['iban']} |")
    with caplog.at_level(logging.DEBUG):
        r = run_pii_gate(
            data_uris=[str(path), str(path)],
            policy_text=_policy(),
            model_uri=str(tmp_path / "m.joblib"),
            artifact_paths=[str(report)],
        )
    assert r.status == Status.FAILED and r.metrics["pii_cells"] > 0
    verdict = r.to_json()
    outputs = {
        "verdict": verdict,
        "verdict metadata": json.dumps(json.loads(r.model_dump_json(exclude={"details"}))),
        "html": gate_report_html(r),
        "markdown": gate_report_markdown(r),
        "log": caplog.text,
    }
    assert GateResult.from_json(verdict).status == Status.FAILED
    for where, text in outputs.items():
        for kind, raw in RAW.items():
            assert raw not in text, (where, kind)
            compact = raw.replace(" ", "")
            assert compact not in text.replace(" ", ""), (where, kind)
    # Masked evidence is there instead.
    assert "j***@e***.org" in outputs["html"]
    assert "**** **** **** 1881" in outputs["markdown"].replace("\\", "")


KINDS = [
    ("empty entities", _policy("    entities: []"), "entities"),
    ("unknown key", _policy("    max_finding: 3"), "gates.pii.max_finding"),
    ("bad region", _policy("    phone_regions: [ZZ]"), "phone_regions"),
    ("bad confidence", _policy("    min_confidence: 2"), "gates.pii.min_confidence"),
    ("invalid yaml", "gates: {pii: [\n", "YAML"),
]


@pytest.mark.parametrize("kind, policy, fragment", KINDS, ids=[k[0] for k in KINDS])
def test_bad_policy_is_an_error_with_one_line(tmp_path, kind, policy, fragment):
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": ["x"]}).to_csv(path, index=False)
    r = run_pii_gate(data_uris=[str(path)], policy_text=policy)
    assert r.status == Status.ERROR and not r.passed
    assert fragment.lower() in r.error.lower() and "\n" not in r.error, r.error


def test_absent_section_is_skipped_not_passed(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": ["x"]}).to_csv(path, index=False)
    r = run_pii_gate(data_uris=[str(path)], policy_text="data: {label: y}\n")
    assert r.status == Status.SKIPPED and not r.passed


def test_bad_inputs_are_errors(tmp_path):
    r = run_pii_gate(data_uris=["", ""], policy_text=_policy())
    assert r.status == Status.ERROR and "no data to scan" in r.error
    r = run_pii_gate(data_uris=[str(tmp_path / "none.csv")], policy_text=_policy())
    assert r.status == Status.ERROR and "none.csv" in r.error
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": ["x"]}).to_csv(path, index=False)
    r = run_pii_gate(
        data_uris=[str(path)], policy_text=_policy(), artifact_paths=[str(tmp_path / "gone.html")]
    )
    assert r.status == Status.ERROR and "gone.html" in r.error
    assert r.inputs["policy"].startswith("sha256:")


def test_parse_section_defaults():
    section = parse_section(_policy(), "p.yaml")
    assert section is not None and section.min_confidence == 0.5 and section.max_findings == 0
    assert len(section.entities) == 10
    assert parse_section("gates: {}", "p.yaml") is None


def test_nested_columns_are_scanned_not_skipped(tmp_path):
    # Parquet struct and list columns hold records one level down; Arrow cannot cast them to
    # text, and skipping them would pass an e-mail stored inside a JSON-like record.
    n = 50
    frame = pd.DataFrame(
        {
            "contact": [{"kind": "work", "mail": RAW["email"]}]
            + [{"kind": "x", "mail": None}] * (n - 1),
            "tags": [["vip", RAW["phone"]]] + [["std"]] * (n - 1),
            "clean_struct": [{"a": 1.5, "b": "ok"}] * n,
            "clean_list": [[1, 2]] * n,
        }
    )
    path = tmp_path / "nested.parquet"
    frame.to_parquet(path, index=False)
    r = run_pii_gate(data_uris=[str(path)], policy_text=_policy())
    assert r.status == Status.FAILED, r.summary
    failing = {c.name for c in r.checks if c.status == Status.FAILED}
    assert any("contact" in name for name in failing), failing
    assert any("tags" in name for name in failing), failing
    assert not any("clean" in name for name in failing), failing
    text = r.to_json() + gate_report_markdown(r) + gate_report_html(r)
    assert RAW["email"] not in text and RAW["phone"] not in text

    clean = tmp_path / "clean.parquet"
    frame[["clean_struct", "clean_list"]].to_parquet(clean, index=False)
    assert run_pii_gate(data_uris=[str(clean)], policy_text=_policy()).status == Status.PASSED
