"""KFP component wrapper of the fairness gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("fairness_gate"), install_kfp_package=False)
def fairness_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    model_uri: str = "",
    data_uri: str = "",
    model: Input[Model] = None,
    data: Input[Dataset] = None,
    sensitive_data_uri: str = "",
    sensitive_data: Input[Dataset] = None,
    mlflow_tracking_uri: str = "",
) -> bool:
    """Check a model's group and intersectional disparities against the fairness policy.

    Args:
        policy: The policy YAML text; its ``gates.fairness`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: Every disparity per sensitive feature and intersection, for the KFP UI.
        report: Static HTML report (per-group tables, rate charts with CIs).
        report_md: Markdown report.
        model_uri: Candidate model URI (``models:/``, ``runs:/``, local file or folder); leave
            empty when ``model`` is wired.
        data_uri: Evaluation data (CSV or Parquet) with labels and, usually, the sensitive
            columns; leave empty when ``data`` is wired.
        model: The candidate as a KFP ``Model`` artifact from an upstream task (an MLflow
            model folder, or a ``.joblib``/``.pkl``/``.skops`` file, suffixed or with
            ``metadata["format"]``); instead of ``model_uri``.
        data: The evaluation data as a KFP ``Dataset`` artifact; instead of ``data_uri``.
        sensitive_data_uri: A separate sensitive-attribute table joined on
            ``gates.fairness.join_key``; empty means the columns of ``data_uri``.
        sensitive_data: The sensitive-attribute table as a ``Dataset`` artifact; instead of
            ``sensitive_data_uri``.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "fairness",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(model=model, data=data, sensitive_data=sensitive_data),
        model_uri=model_uri,
        data_uri=data_uri,
        policy_text=policy,
        sensitive_data_uri=sensitive_data_uri,
        tracking_uri=mlflow_tracking_uri,
    )
