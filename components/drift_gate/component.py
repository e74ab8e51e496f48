"""KFP component wrapper of the drift gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("drift_gate"), install_kfp_package=False)
def drift_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    data_uri: str = "",
    data: Input[Dataset] = None,
    reference_data_uri: str = "",
    reference_data: Input[Dataset] = None,
    mlflow_tracking_uri: str = "",
) -> bool:
    """Block data that has moved away from the reference, column by column.

    Args:
        policy: The policy YAML text; its ``gates.drift`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: The judged distance of every column and the drifted share, for the KFP UI.
        report: Static HTML report (per-column table, reference vs current histograms).
        report_md: Markdown report.
        data_uri: The current data (new training data, or a recent production sample); leave
            empty when ``data`` is wired.
        data: The current data as a KFP ``Dataset`` artifact; instead of ``data_uri``.
        reference_data_uri: The reference: the data the model was built or validated on, or a
            stored reference profile (``quality-gates drift profile``: a JSON file, or a
            ``models:/name/version`` whose run logged one), so the training table need not be
            read again.
        reference_data: The reference (a table or a profile file) as a ``Dataset`` artifact;
            instead of ``reference_data_uri``.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "drift",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(data=data, reference_data=reference_data),
        data_uri=data_uri,
        reference_data_uri=reference_data_uri,
        policy_text=policy,
        tracking_uri=mlflow_tracking_uri,
    )
