"""The run template: everything a gate run does besides the gate's own evaluation, done once.

:func:`run_gate` parses the policy, refuses an empty section, applies the champion-alias
override, hands the gate a :class:`~quality_gates.shared.gates.context.GateContext` that loads
and digests inputs on demand, times the run, records package versions, and turns any failure into
an ``error`` result with one line (fail closed). The CLI, the Python API and every KFP component
call it, so a gate gives the same GateResult wherever it runs; :func:`run_gates` shares one
:class:`~quality_gates.shared.gates.session.Session` so ``check all`` loads each input once.
"""

from __future__ import annotations

import time
from typing import Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.gates import GateSpec, gate
from quality_gates.shared.contracts.results import (
    GateResult,
    Status,
    finalize,
    not_configured_result,
    utc_now,
)
from quality_gates.shared.contracts.versions import package_versions
from quality_gates.shared.gates.context import Evaluation, GateContext, GateInputs
from quality_gates.shared.gates.execution import guarded
from quality_gates.shared.gates.session import Session
from quality_gates.shared.policy.schema import policy_digest

__all__ = ["Evaluation", "GateContext", "GateInputs", "check", "run_gate", "run_gates"]


def _section(spec: GateSpec, ctx_policy: Any, inputs: GateInputs) -> Any:
    """Return the gate's policy section, or None; refuse a section with nothing to check."""
    section = getattr(ctx_policy.gates, spec.name)
    if section is None:
        return None
    if not section.has_rules:
        raise GateInputError(
            f"gates.{spec.name} in {inputs.policy_source} has no rules; {section.rules_hint} — "
            "a gate with nothing to check never passes"
        )
    champion = getattr(section, "champion", None)
    if inputs.champion_alias and champion is not None:
        # The pipeline parameter wins over the policy, so one policy serves several aliases.
        section = section.model_copy(
            update={"champion": champion.model_copy(update={"alias": inputs.champion_alias})}
        )
    return section


def _one_blas_thread():
    """A context in which BLAS runs on the calling thread only.

    OpenBLAS's worker threads busy-wait after every call: on a 2-core machine the drift gate's
    vector dot products at 1M rows burnt 3 CPU-s of spinning (6.8 against 3.7 CPU-s) for no
    gain in wall time. A KFP task gets one or two CPUs, so the threads buy nothing there either,
    and one thread makes BLAS sums independent of the machine's core count.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def run_gate(
    name: str | GateSpec, inputs: GateInputs, *, session: Session | None = None
) -> GateResult:
    """Run one registered gate on the given inputs.

    Never raises for bad input: any problem becomes a GateResult with status ``error`` and a
    one-line message, carrying the digests gathered up to the failure.

    Args:
        name: The gate's name (``performance``, ``pii`` ...) or its declaration.
        inputs: URIs and options; the gate reads what it declares.
        session: Caches shared with other gates of the same process; a new one by default.

    Returns:
        The gate's result.

    Raises:
        GateInputError: For a gate name no folder declares.
    """
    spec = name if isinstance(name, GateSpec) else gate(name)
    session = session or Session()
    clock = time.monotonic()
    started = utc_now()
    versions = package_versions(extra=spec.report_packages)
    digests: dict[str, str] = {"policy": policy_digest(inputs.policy_text)}

    def _run() -> GateResult:
        policy = session.policy(inputs.policy_text, inputs.policy_source)
        section = _section(spec, policy, inputs)
        if section is None:
            return not_configured_result(gate=spec.name, inputs=digests)
        ctx = GateContext(
            spec=spec,
            inputs=inputs,
            policy=policy,
            section=section,
            session=session,
            digests=digests,
            clock=clock,
        )
        try:
            with _one_blas_thread():
                found: Evaluation = spec.evaluate_function()(ctx)
        except ModuleNotFoundError as exc:
            # A lazy import inside the gate (shap, fairlearn, phonenumbers): name the extra.
            # A module of our own missing is a packaging bug and stays one.
            if not exc.name or exc.name.split(".")[0] == "quality_gates":
                raise
            raise spec.missing_module(exc) from None
        return finalize(
            gate=spec.name,
            checks=found.checks,
            metrics=found.metrics,
            inputs=digests,
            started_at=started,
            versions=versions,
            details=found.details,
        )

    result = guarded(spec.name, _run, inputs=digests)
    if result.status == Status.ERROR:
        result.versions = versions
    return result


def run_gates(names: list[str], inputs: GateInputs) -> dict[str, GateResult]:
    """Run several gates in one process, loading each model, table and policy once.

    Args:
        names: Registered gate names, in the order to run them.
        inputs: The shared inputs.

    Returns:
        Each gate's result by name.
    """
    session = Session()
    return {n: run_gate(n, inputs, session=session) for n in names}


def check(name: str, **inputs: Any) -> GateResult:
    """Run one gate from Python, as ``quality-gates check <name>`` does.

    Args:
        name: A registered gate name.
        **inputs: :class:`~quality_gates.shared.gates.context.GateInputs` fields
            (``data_uri``, ``policy_text``, ``model_uri`` ...).

    Returns:
        The gate's result (status ``error`` for bad input, never an exception).

    Example:
        >>> check("fairness", model_uri="m.joblib", data_uri="eval.parquet",
        ...       policy_text=open("policy.yaml").read())  # doctest: +SKIP
    """
    return run_gate(name, GateInputs(**inputs))
