"""KFP component wrapper of the operational gate: read inputs, call core, write outputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("operational_gate"), install_kfp_package=False)
def operational_gate(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    model_uri: str = "",
    model: Input[Model] = None,
    data_uri: str = "",
    data: Input[Dataset] = None,
    registered_model_name: str = "",
    champion_alias: str = "",
    mlflow_tracking_uri: str = "",
) -> bool:
    """Block a candidate that is too slow, too large or too memory-hungry to serve.

    Serves the candidate (and the champion) through MLServer, KServe's runtime, on 127.0.0.1
    inside the task, and measures latency, throughput, load time, size and peak memory. The
    task's CPU request and limit (pipelines/resources.py) must match the policy's
    ``measurement.cpus``; the report states both.

    Args:
        policy: The policy YAML text; its ``gates.operational`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: p50/p95/p99 latency, throughput, size, memory, load time (the champion's
            prefixed ``champion_``), for the KFP UI.
        report: Static HTML report.
        report_md: Markdown report.
        model_uri: Candidate model URI; leave empty when ``model`` is wired.
        model: The candidate as a KFP ``Model`` artifact; instead of ``model_uri``.
        data_uri: Evaluation data whose rows are sent as requests; empty when ``data`` is wired.
        data: The evaluation data as a ``Dataset`` artifact; instead of ``data_uri``.
        registered_model_name: Registered model whose alias holds the champion.
        champion_alias: Overrides the policy's champion alias when not empty.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "operational",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(model=model, data=data),
        model_uri=model_uri,
        data_uri=data_uri,
        policy_text=policy,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        tracking_uri=mlflow_tracking_uri,
    )
