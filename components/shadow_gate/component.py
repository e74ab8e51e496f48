"""KFP component wrapper of the shadow gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("shadow_gate"), install_kfp_package=False)
def shadow_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    model_uri: str = "",
    model: Input[Model] = None,
    request_log_uri: str = "",
    request_log: Input[Dataset] = None,
    mlflow_tracking_uri: str = "",
) -> bool:
    """Block a candidate whose decisions on logged production traffic differ too much.

    Args:
        policy: The policy YAML text; its ``gates.shadow`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: ``flip_rate``, ``agreement``, per-segment flip rates, ``n_requests``,
            ``unmatched`` and the score shift, for the KFP UI.
        report: Static HTML report.
        report_md: Markdown report.
        model_uri: Candidate model URI; leave empty when ``model`` is wired.
        model: The candidate as a KFP ``Model`` artifact; instead of ``model_uri``.
        request_log_uri: The request log: a Parquet/CSV table of logged requests with
            production's answers, or KServe payload-logger events as JSON Lines; leave empty
            when ``request_log`` is wired.
        request_log: The request log as a ``Dataset`` artifact; instead of ``request_log_uri``.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "shadow",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(model=model, request_log=request_log),
        model_uri=model_uri,
        request_log_uri=request_log_uri,
        policy_text=policy,
        tracking_uri=mlflow_tracking_uri,
    )
