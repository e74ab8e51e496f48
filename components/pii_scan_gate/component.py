"""KFP component wrapper of the PII scan gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("pii_scan_gate"), install_kfp_package=False)
def pii_scan_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    data_uri: str = "",
    data: Input[Dataset] = None,
    train_data_uri: str = "",
    train_data: Input[Dataset] = None,
    model_uri: str = "",
    model: Input[Model] = None,
    performance_report: Input[HTML] = None,
    mlflow_tracking_uri: str = "",
) -> bool:
    """Block a model whose data, feature names or pipeline reports hold personal data.

    Args:
        policy: The policy YAML text; its ``gates.pii`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata); examples masked.
        metrics: Counts of findings per entity type, for the KFP UI.
        report: Static HTML report (masked examples only).
        report_md: Markdown report (masked examples only).
        data_uri: Evaluation data (CSV or Parquet); leave empty when ``data`` is wired.
        data: The evaluation data as a KFP ``Dataset`` artifact; instead of ``data_uri``.
        train_data_uri: Training data; empty skips it.
        train_data: The training data as a ``Dataset`` artifact; instead of ``train_data_uri``.
        model_uri: The model, whose feature names (signature) are scanned; empty skips it.
        model: The model as a KFP ``Model`` artifact; instead of ``model_uri``.
        performance_report: Another gate's HTML report, scanned so that no PII leaks through the
            pipeline's own artifacts; optional.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "pii",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(data=data, train_data=train_data, model=model),
        data_uri=data_uri,
        policy_text=policy,
        train_data_uri=train_data_uri,
        model_uri=model_uri,
        artifact_paths=(performance_report.path,) if performance_report is not None else (),
        tracking_uri=mlflow_tracking_uri,
    )
