"""KFP component wrapper of the aggregator: one typed input per registered gate, a scorecard.

kfp 2.17 turns a list of task outputs into strings, so each gate's verdict arrives through its
own ``Input[Artifact]``, named after the gate. Those inputs come from the gate registry: the
component's source is rendered from :data:`_SOURCE` with one parameter per registered gate and
compiled with a file name registered in :mod:`linecache`, so that ``inspect.getsource`` (which
kfp uses to embed the function in the component YAML) sees exactly the rendered text. A new gate
folder therefore gets its aggregator input without editing this file; its absence from a
pipeline is caught at run time (a configured gate without a verdict is an ``error``).
"""

import linecache

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Model, Output

from quality_gates.shared.contracts.gates import gates
from quality_gates.shared.contracts.versions import image_for

_SOURCE = '''def aggregator(
    scorecard: Output[Artifact],
    scorecard_html: Output[HTML],
    scorecard_md: Output[Markdown],
{gate_params}
    policy: str = "",
    model_uri: str = "",
    registered_model_name: str = "",
    experiment_name: str = "",
    pipeline_run_id: str = "",
    mlflow_tracking_uri: str = "",
    submitted_by: str = "",
    model: Input[Model] = None,
) -> bool:
    """Combine the gates' verdicts into a scorecard; fail closed on anything missing.

    Args:
        scorecard: Scorecard JSON (decision, every check, digests, lineage).
        scorecard_html: Static HTML scorecard for the KFP UI.
        scorecard_md: Markdown scorecard.
{gate_docs}
        policy: The policy YAML text; the gates it configures must all pass.
        model_uri: The candidate's URI, for the record.
        registered_model_name: Registered model the decision is about.
        experiment_name: MLflow experiment for the evaluation run; empty skips logging.
        pipeline_run_id: KFP run id, kept in the lineage.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.
        submitted_by: Who submitted the run (may not grant its waivers); empty: the task's user.
        model: The candidate as a KFP ``Model`` artifact, when the gates took it as one: its
            URI is recorded instead of ``model_uri``.

    Returns:
        True only when every gate the policy configures passed or warned.
    """
    from quality_gates.components.aggregator.component_io import run_aggregator

    given = {{{gate_verdicts}}}
    if model is not None:
        if model_uri:
            raise ValueError("the model is given twice, as an artifact and as model_uri")
        model_uri = model.uri
    return run_aggregator(
        verdicts={{gate: a.path for gate, a in given.items() if a is not None}},
        policy=policy,
        scorecard=scorecard,
        scorecard_html=scorecard_html,
        scorecard_md=scorecard_md,
        model_uri=model_uri,
        registered_model_name=registered_model_name,
        experiment_name=experiment_name,
        pipeline_run_id=pipeline_run_id,
        tracking_uri=mlflow_tracking_uri,
        submitted_by=submitted_by,
    )
'''


def _render() -> str:
    specs = gates()
    return _SOURCE.format(
        gate_params="\n".join(f"    {s.name}: Input[Artifact] = None," for s in specs),
        gate_docs="\n".join(
            f"        {s.name}: GateResult of the {s.title} gate; leave it unwired when the "
            "policy has no such section."
            for s in specs
        ),
        gate_verdicts=", ".join(f'"{s.name}": {s.name}' for s in specs),
    )


def _build():
    source = _render()
    filename = "<quality_gates.components.aggregator: rendered from the gate registry>"
    # inspect.getsource reads the text back through linecache, as it does for any module.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {
        "Input": Input,
        "Output": Output,
        "Artifact": Artifact,
        "HTML": HTML,
        "Markdown": Markdown,
        "Model": Model,
        "__name__": __name__,
    }
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own template
    function = namespace["aggregator"]
    function.__module__ = __name__
    return dsl.component(base_image=image_for("aggregator"), install_kfp_package=False)(function)


aggregator = _build()
