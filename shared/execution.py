"""Run a gate so that every failure becomes a GateResult with status ``error`` (fail closed).

A gate that raises crashes a KFP task and hides its evidence; a gate that returns ``error`` keeps
the scorecard rendering and blocks promotion. Every gate's entry point goes through
:func:`guarded`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from quality_gates.shared.errors import GateInputError, one_line
from quality_gates.shared.results import GateResult, error_result, utc_now
from quality_gates.shared.versions import package_versions

log = logging.getLogger("quality_gates")


def guarded(gate: str, fn: Callable[[], GateResult]) -> GateResult:
    """Call a gate's evaluation and convert any exception into an ``error`` result.

    Args:
        gate: Gate name for the error result.
        fn: Zero-argument callable that evaluates the gate.

    Returns:
        The gate's own result, or an ``error`` result with a one-line message. Unexpected
        exceptions keep their traceback in the debug log only, never in the result.
    """
    started = utc_now()
    try:
        return fn()
    except GateInputError as exc:
        message = str(exc)
    except MemoryError:
        message = "out of memory while evaluating; sample the data or give the task more memory"
    except Exception as exc:  # noqa: BLE001 - fail closed on anything
        log.debug("gate %s raised:\n%s", gate, traceback.format_exc())
        message = one_line(exc) + "; this is likely a bug or an unsupported input, please report it"
    return error_result(gate=gate, message=message, started_at=started, versions=package_versions())
