"""KFP component wrapper of the aggregator: one typed input per gate, a scorecard, a decision."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Output

from quality_gates.shared.versions import image_for


@dsl.component(base_image=image_for("aggregator"), install_kfp_package=False)
def aggregator(
    performance: Input[Artifact],
    fairness: Input[Artifact],
    explainability: Input[Artifact],
    pii: Input[Artifact],
    scorecard: Output[Artifact],
    scorecard_html: Output[HTML],
    scorecard_md: Output[Markdown],
    policy: str = "",
    model_uri: str = "",
    registered_model_name: str = "",
    experiment_name: str = "",
    pipeline_run_id: str = "",
    mlflow_tracking_uri: str = "",
) -> bool:
    """Combine the gates' verdicts into a scorecard; fail closed on anything missing.

    Args:
        performance: GateResult of the performance gate.
        fairness: GateResult of the fairness gate.
        explainability: GateResult of the explainability gate.
        pii: GateResult of the PII scan gate.
        scorecard: Scorecard JSON (decision, every check, digests, lineage).
        scorecard_html: Static HTML scorecard for the KFP UI.
        scorecard_md: Markdown scorecard.
        policy: The policy YAML text; the gates it configures must all pass.
        model_uri: The candidate's URI, for the record.
        registered_model_name: Registered model the decision is about.
        experiment_name: MLflow experiment for the evaluation run; empty skips logging.
        pipeline_run_id: KFP run id, kept in the lineage.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True only when every gate passed or warned.
    """
    from quality_gates.components.aggregator.component_io import run_aggregator

    return run_aggregator(
        verdicts={
            "performance": performance.path,
            "fairness": fairness.path,
            "explainability": explainability.path,
            "pii": pii.path,
        },
        policy=policy,
        scorecard=scorecard,
        scorecard_html=scorecard_html,
        scorecard_md=scorecard_md,
        model_uri=model_uri,
        registered_model_name=registered_model_name,
        experiment_name=experiment_name,
        pipeline_run_id=pipeline_run_id,
        tracking_uri=mlflow_tracking_uri,
    )
