"""KFP component wrapper of the data contract gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("contract_gate"), install_kfp_package=False)
def contract_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    data_uri: str = "",
    data: Input[Dataset] = None,
    mlflow_tracking_uri: str = "",
) -> bool:
    """Block data that breaks its contract (columns, kinds, missing shares, ranges, domains).

    Args:
        policy: The policy YAML text; its ``gates.contract`` section is the contract.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: Rows and violated rules, for the KFP UI.
        report: Static HTML report (every violated rule with counts and example row keys).
        report_md: Markdown report.
        data_uri: The delivered data (CSV or Parquet); leave empty when ``data`` is wired.
        data: The data as a KFP ``Dataset`` artifact; instead of ``data_uri``.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "contract",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(data=data),
        data_uri=data_uri,
        policy_text=policy,
        tracking_uri=mlflow_tracking_uri,
    )
