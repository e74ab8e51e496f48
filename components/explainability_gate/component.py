"""KFP component wrapper of the explainability gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("explainability_gate"), install_kfp_package=False)
def explainability_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
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
    """Explain a candidate model with SHAP and block leakage, bias or a silent change of drivers.

    Args:
        policy: The policy YAML text; its ``gates.explainability`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: Sampling figures, stability and the top features' attribution shares.
        report: Static HTML report with the attribution plots inline.
        report_md: Markdown report.
        model_uri: Candidate model URI (``models:/``, ``runs:/``, local file or folder); leave
            empty when ``model`` is wired.
        data_uri: Evaluation data (CSV or Parquet); leave empty when ``data`` is wired.
        model: The candidate as a KFP ``Model`` artifact from an upstream task; instead of
            ``model_uri``.
        data: The evaluation data as a KFP ``Dataset`` artifact; instead of ``data_uri``.
        registered_model_name: Registered model whose alias holds the champion.
        champion_alias: Overrides the policy's champion alias when not empty.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "explainability",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(model=model, data=data),
        model_uri=model_uri,
        data_uri=data_uri,
        policy_text=policy,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        tracking_uri=mlflow_tracking_uri,
    )
