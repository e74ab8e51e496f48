"""No credential written into a URI reaches a message, a result or a scorecard."""

import socket

import pytest

from quality_gates.shared.contracts.errors import GateInputError, describe, one_line, redact
from quality_gates.shared.contracts.results import CheckResult, GateResult, Status
from quality_gates.shared.gates.runner import check

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    "text",
    [
        f"https://alice:{SECRET}@mlflow.example.com/api",
        f"server http://ci-bot:{SECRET}@127.0.0.1:5000 is unreachable",
        f"postgresql+psycopg2://mlflow:{SECRET}@db:5432/mlflow",
        f"https://{SECRET}@host/x",
        f"s3://bucket/eval.parquet?X-Amz-Signature={SECRET}&X-Amz-Date=20261202",
        f"https://host/model?token={SECRET}",
    ],
)
def test_credentials_in_uris_are_withheld(text):
    out = redact(text)
    assert SECRET not in out and "***" in out
    assert SECRET not in str(GateInputError(f"cannot reach {text}"))
    assert SECRET not in describe(RuntimeError(text)) and SECRET not in one_line(OSError(text))


def test_uris_without_credentials_are_kept():
    text = "models:/credit-risk@production at http://127.0.0.1:5000 (s3://b/k?versionId=3), a@b.org"
    assert redact(text) == text


def test_results_withhold_credentials_whatever_wrote_them():
    leak = f"http://u:{SECRET}@h"
    r = GateResult(
        gate="g",
        status=Status.ERROR,
        summary=f"failed at {leak}",
        error=f"at {leak}",
        checks=[CheckResult(name="c", status=Status.ERROR, message=f"see {leak}")],
    )
    assert SECRET not in r.to_json()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_password_in_the_tracking_uri_never_reaches_the_result(tmp_path):
    data = tmp_path / "eval.csv"
    data.write_text("x,target\n" + "".join(f"{i % 7},{i % 2}\n" for i in range(200)))
    uri = f"http://ci-bot:{SECRET}@127.0.0.1:{_closed_port()}"
    r = check(
        "performance",
        model_uri="models:/credit/1",
        data_uri=str(data),
        policy_text="data: {label: target}\ngates:\n  performance:\n"
        "    rules: [{metric: accuracy, min: 0.5}]\n",
        tracking_uri=uri,
    )
    assert r.status == Status.ERROR
    assert SECRET not in r.to_json() and "ci-bot" not in r.to_json()
    assert "127.0.0.1" in r.error  # which server was meant is still said
