"""KFP component wrapper of the manual approval step (after ``promote`` to staging)."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("manual_approval"), install_kfp_package=False)
def manual_approval(
    scorecard: Input[Artifact],
    registered_model_name: str,
    version: str,
    policy: str,
    decision: Output[Artifact],
    submitted_by: str = "",
    mode: str = "wait",
    mlflow_tracking_uri: str = "",
) -> str:
    """Mark the staged version ``pending`` and wait for a named approver (or stop at pending).

    Args:
        scorecard: The aggregator's scorecard JSON the version was promoted with.
        registered_model_name: Registered model name.
        version: The version the promote step returned.
        policy: The policy YAML text; its ``approval`` section names the approvers.
        decision: JSON record of the outcome (version, mode, state, submitter).
        submitted_by: Who submitted the run (cannot approve it); empty resolves
            ``QUALITY_GATES_USER`` or the OS user.
        mode: ``wait`` polls until approved, rejected or timed out; ``pending`` returns at once.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        ``approved``, ``rejected``, ``timed_out`` or (pending mode) ``pending``.
    """
    from quality_gates.components.manual_approval.core import outcome_json, run_manual_approval
    from quality_gates.components.promote.core import load_scorecard

    done = run_manual_approval(
        scorecard=load_scorecard(scorecard.path),
        registered_model_name=registered_model_name,
        version=version,
        policy_text=policy,
        submitted_by=submitted_by,
        mode=mode,
        tracking_uri=mlflow_tracking_uri or None,
    )
    with open(decision.path, "w", encoding="utf-8") as fh:
        fh.write(outcome_json(done))
    decision.metadata.update({"version": done.version, "state": done.state, "mode": done.mode})
    return done.state
