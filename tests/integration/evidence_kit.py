"""Stage a real model the way the pipeline does: evidence logged, audit records, promotion.

Loaded by the integration tests with importlib (tests are not a package). Each staged version
has an evaluation run holding its ``policy.yaml``, ``gate_result``/``aggregation`` records and a
``promotion`` record in the audit log: everything approval reads its authority from.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import joblib
import yaml

from quality_gates.components.aggregator.core import record_evidence
from quality_gates.components.promote.core import promote_from_scorecard
from quality_gates.shared.contracts.results import CheckResult, Status, finalize
from quality_gates.shared.contracts.scorecard import Scorecard, decide
from quality_gates.shared.io.models import load_model
from quality_gates.shared.policy.approval import ApprovalPolicy
from quality_gates.shared.policy.schema import policy_digest


def policy_yaml(approval: ApprovalPolicy) -> str:
    """A policy text whose approval section is ``approval``."""
    return yaml.safe_dump({"approval": approval.model_dump(exclude_none=True)}, sort_keys=True)


def scorecard(
    digest: str, uri: str, policy_text: str, *, name: str, passed: bool = True
) -> Scorecard:
    """A two-gate scorecard for the model with ``digest`` under ``policy_text``."""
    pdigest = policy_digest(policy_text)
    status = Status.PASSED if passed else Status.FAILED
    results = [
        finalize(
            gate=gate,
            checks=[CheckResult(name="c", value=0.9, threshold=0.7, status=status)],
            inputs={"model": digest, "data": "sha256:data", "policy": pdigest},
        )
        for gate in ("performance", "fairness")
    ]
    decision, all_passed = decide(results)
    return Scorecard(
        decision=decision,
        all_passed=all_passed,
        summary="test scorecard",
        expected_gates=[r.gate for r in results],
        results=results,
        model_uri=uri,
        model_digest=digest,
        data_digest="sha256:data",
        policy_digest=pdigest,
        registered_model_name=name,
        lineage={"git_commit": "0123abc", "pipeline_run_id": "run-7"},
    )


def evaluate(
    tmp_path: Path, model_path: Path, *, name: str, uri: str, policy_text: str, passed: bool = True
) -> Scorecard:
    """Aggregate and record the evidence of one evaluation (run, policy, audit records)."""
    card = scorecard(
        load_model(str(model_path)).digest, str(model_path), policy_text, name=name, passed=passed
    )
    return record_evidence(
        card,
        out_dir=tmp_path / f"scorecard-{uuid.uuid4().hex[:6]}",
        experiment_name=f"quality-gates-{name}",
        tracking_uri=uri,
        policy_text=policy_text,
    )


def save(tmp_path: Path, estimator) -> Path:
    """Dump an estimator to a fresh joblib file."""
    path = tmp_path / f"model-{uuid.uuid4().hex[:8]}.joblib"
    joblib.dump(estimator, path)
    return path


def stage(tmp_path: Path, estimator, *, name: str, uri: str, policy_text: str) -> str:
    """Evaluate (passing) and promote to staging; return the version."""
    path = save(tmp_path, estimator)
    card = evaluate(tmp_path, path, name=name, uri=uri, policy_text=policy_text)
    assert card.all_passed, card.summary
    return promote_from_scorecard(
        scorecard=card, model_uri=str(path), registered_model_name=name, tracking_uri=uri
    ).version
