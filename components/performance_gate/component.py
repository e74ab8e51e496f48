"""KFP component wrapper of the performance gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
)

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("performance_gate"), install_kfp_package=False)
def performance_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    model_uri: str = "",
    data_uri: str = "",
    model: Input[Model] = None,
    data: Input[Dataset] = None,
    registered_model_name: str = "",
    champion_alias: str = "",
    mlflow_tracking_uri: str = "",
) -> bool:
    """Evaluate a candidate model's metrics, slices and non-inferiority to the champion.

    Args:
        policy: The policy YAML text; its ``gates.performance`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: Every metric of the candidate, for the KFP UI.
        classification_metrics: Confusion matrix and ROC curve (classification only).
        report: Static HTML report.
        report_md: Markdown report.
        model_uri: Candidate model URI (``models:/``, ``runs:/``, local file or folder); leave
            empty when ``model`` is wired.
        data_uri: Evaluation data (CSV or Parquet); leave empty when ``data`` is wired.
        model: The candidate as a KFP ``Model`` artifact from an upstream task (an MLflow
            model folder, or a ``.joblib``/``.pkl``/``.skops`` file, suffixed or with
            ``metadata["format"]``); instead of ``model_uri``.
        data: The evaluation data as a KFP ``Dataset`` artifact; instead of ``data_uri``.
        registered_model_name: Registered model whose alias holds the champion.
        champion_alias: Overrides the policy's champion alias when not empty.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "performance",
        outputs=dict(
            verdict=verdict,
            metrics=metrics,
            classification_metrics=classification_metrics,
            report=report,
            report_md=report_md,
        ),
        artifacts=dict(model=model, data=data),
        model_uri=model_uri,
        data_uri=data_uri,
        policy_text=policy,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        tracking_uri=mlflow_tracking_uri,
    )
