"""KFP component wrapper of the decay gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("decay_gate"), install_kfp_package=False)
def decay_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    model_uri: str = "",
    model: Input[Model] = None,
    production_data_uri: str = "",
    production_data: Input[Dataset] = None,
    registered_model_name: str = "",
    champion_alias: str = "",
    mlflow_tracking_uri: str = "",
) -> bool:
    """Block a candidate that does worse than the champion on recent production traffic.

    Args:
        policy: The policy YAML text; its ``gates.decay`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: The candidate's metrics on the production sample and the champion's
            (``champion_<metric>``), for the KFP UI.
        report: Static HTML report.
        report_md: Markdown report.
        model_uri: Candidate model URI; leave empty when ``model`` is wired.
        model: The candidate as a KFP ``Model`` artifact; instead of ``model_uri``.
        production_data_uri: A recent labelled sample of production traffic (CSV or Parquet,
            the evaluation data's columns with the observed outcome as the label); leave empty
            when ``production_data`` is wired.
        production_data: The production sample as a ``Dataset`` artifact; instead of
            ``production_data_uri``.
        registered_model_name: Registered model whose alias holds the champion.
        champion_alias: Overrides the policy's champion alias when not empty.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "decay",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(model=model, production_data=production_data),
        model_uri=model_uri,
        production_data_uri=production_data_uri,
        policy_text=policy,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        tracking_uri=mlflow_tracking_uri,
    )
