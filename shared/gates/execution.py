"""Run a gate so that every failure becomes a GateResult with status ``error`` (fail closed).

A gate that raises crashes a KFP task and hides its evidence; a gate that returns ``error`` keeps
the scorecard rendering and blocks promotion. Every gate's entry point goes through
:func:`guarded`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from quality_gates.shared.contracts.errors import GateInputError, one_line
from quality_gates.shared.contracts.results import GateResult, Status, error_result, utc_now
from quality_gates.shared.contracts.versions import package_versions

log = logging.getLogger("quality_gates")


def guarded(
    gate: str, fn: Callable[[], GateResult], *, inputs: dict[str, str] | None = None
) -> GateResult:
    """Call a gate's evaluation and convert any exception into an ``error`` result.

    Args:
        gate: Gate name for the error result.
        fn: Zero-argument callable that evaluates the gate.
        inputs: The digests the gate gathered so far (the caller keeps filling this dict);
            an ``error`` result without inputs of its own carries them, so the scorecard still
            shows which model, data and policy failed.

    Returns:
        The gate's own result, or an ``error`` result with a one-line message. Unexpected
        exceptions keep their traceback in the debug log only, never in the result.
    """
    started = utc_now()
    try:
        result = fn()
    except GateInputError as exc:
        message = str(exc)
    except MemoryError:
        message = "out of memory while evaluating; sample the data or give the task more memory"
    except Exception as exc:  # noqa: BLE001 - fail closed on anything
        log.debug("gate %s raised:\n%s", gate, traceback.format_exc())
        message = (
            one_line(exc, mask=True)
            + "; this is likely a bug or an unsupported input, please report it"
        )
    else:
        if result.status == Status.ERROR and not result.inputs and inputs:
            result.inputs = inputs
        return result
    return error_result(
        gate=gate,
        message=message,
        inputs=inputs or None,
        started_at=started,
        versions=package_versions(),
    )
