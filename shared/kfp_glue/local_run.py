"""Run the gated-promotion pipeline on this machine through ``kfp.local``.

Tasks run as subprocesses in the current Python environment (``SubprocessRunner(use_venv=False)``),
so the installed ``quality_gates`` package is what every component imports, exactly as in the
component images. kfp.local's own log goes to a file beside the outputs; the caller gets a short
summary and the paths of the evidence.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.scorecard import Scorecard


@dataclass(frozen=True)
class LocalRun:
    """Outcome of a local pipeline run.

    Attributes:
        scorecard: The aggregated scorecard.
        scorecard_dir: Folder holding scorecard.json, .md and .html.
        run_dir: kfp.local's folder for this run (every task's artifacts).
        promoted_version: Version set on the staging alias, or None when not promoted.
        log_path: kfp.local's log.
        tracking_uri: The MLflow tracking URI every task used.
        approval_state: ``pending``, ``approved``, ... or ``not_configured``; None when the
            model was not promoted.
        refusal_reasons: The ``candidate refused`` step's Markdown when the gates refused the
            candidate (the run then ended FAILED in that step); None otherwise.
    """

    scorecard: Scorecard
    scorecard_dir: Path
    run_dir: Path
    promoted_version: str | None
    log_path: Path
    tracking_uri: str = ""
    approval_state: str | None = None
    refusal_reasons: Path | None = None


def _last_error_line(log_text: str) -> str:
    # The component raised GateInputError with an actionable line; surface that, not a traceback.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log_text)
    for line in reversed(plain.splitlines()):
        if "GateInputError:" in line:
            return line.split("GateInputError:", 1)[1].strip()
    for line in reversed(plain.splitlines()):
        s = line.strip()
        if s.startswith(("RuntimeError:", "ValueError:", "Exception:")) or "Error:" in s[:60]:
            return s
    return "a pipeline task failed; see the log"


def run_pipeline(
    *,
    model_uri: str,
    data_uri: str,
    policy_text: str,
    registered_model_name: str,
    output_dir: str | Path,
    champion_alias: str = "production",
    staging_alias: str = "staging",
    experiment_name: str = "quality-gates",
    tracking_uri: str | None = None,
    sensitive_data_uri: str = "",
    train_data_uri: str = "",
    reference_data_uri: str = "",
    production_data_uri: str = "",
    request_log_uri: str = "",
    approval_mode: str = "pending",
    submitted_by: str = "",
    runner: Any | None = None,
) -> LocalRun:
    """Run the gated-promotion pipeline through kfp.local and collect its evidence.

    Args:
        model_uri: Candidate model URI.
        data_uri: Evaluation data URI.
        policy_text: Policy YAML text.
        registered_model_name: Registered model name.
        output_dir: Folder for kfp.local outputs, the log and the scorecard.
        champion_alias: Alias of the champion.
        staging_alias: Alias set when every gate passes.
        experiment_name: MLflow experiment of the evaluation run.
        tracking_uri: MLflow tracking URI; default ``MLFLOW_TRACKING_URI``.
        sensitive_data_uri: Separate file of sensitive attributes for the fairness gate.
        train_data_uri: Training data, scanned by the PII gate.
        reference_data_uri: Reference data of the drift gate.
        production_data_uri: Labelled production sample of the decay gate.
        request_log_uri: Logged production requests of the shadow gate.
        approval_mode: ``pending`` (a later ``quality-gates approve`` decides) or ``wait``.
        submitted_by: Who submits the run; may not approve it.
        runner: kfp.local runner; default ``SubprocessRunner(use_venv=False)`` (the images tier
            passes a ``DockerRunner``, see ``shared/docker_run.py``).

    Returns:
        The run's outcome.

    Raises:
        GateInputError: When a task crashed (e.g. the promotion refused), with its one line.
    """
    from kfp import local

    from quality_gates.pipelines.gated_promotion import gated_promotion

    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = out / "kfp-local"
    log_path = out / "kfp-local.log"
    uri = _resolve_tracking_uri(tracking_uri)
    local.init(runner=runner or local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    before = set(root.iterdir()) if root.exists() else set()
    task, error = _submit(
        gated_promotion,
        log_path,
        uri,
        model_uri=model_uri,
        data_uri=data_uri,
        policy=policy_text,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        staging_alias=staging_alias,
        experiment_name=experiment_name,
        mlflow_tracking_uri=uri,
        sensitive_data_uri=sensitive_data_uri,
        train_data_uri=train_data_uri,
        reference_data_uri=reference_data_uri,
        production_data_uri=production_data_uri,
        request_log_uri=request_log_uri,
        approval_mode=approval_mode,
        submitted_by=submitted_by,
    )
    return _collect(task, error, out=out, root=root, before=before, log_path=log_path, uri=uri)


def _resolve_tracking_uri(tracking_uri: str | None) -> str:
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        import mlflow

        # MLflow's own default (a sqlite file in the working folder), made explicit so that
        # every task and the summary name the same registry.
        uri = mlflow.get_tracking_uri()
    return uri


def _submit(
    pipeline: Any, log_path: Path, uri: str, **arguments: Any
) -> tuple[Any, Exception | None]:
    """Run the pipeline with its log redirected; return the task, or the error it raised."""
    # Tasks are subprocesses: they inherit the environment, not our Python state. The
    # caller's own environment is restored afterwards.
    previous_uri = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    task: Any = None
    error: Exception | None = None
    with (
        log_path.open("a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        warnings.catch_warnings(),
    ):
        # kfp.local warns that display names are ignored locally and that our components name
        # a non-Python image; both are expected with SubprocessRunner(use_venv=False).
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            task = pipeline(**arguments)
        except Exception as exc:  # noqa: BLE001 - reported by the caller as one line
            error = exc
        finally:
            if previous_uri is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = previous_uri
    return task, error


def _collect(
    task: Any,
    error: Exception | None,
    *,
    out: Path,
    root: Path,
    before: set[Path],
    log_path: Path,
    uri: str,
) -> LocalRun:
    """Find this run's folder, raise a task's error as one line, or gather the evidence."""
    new_runs = sorted(set(root.iterdir()) - before, key=lambda p: p.stat().st_mtime)
    run_dir = new_runs[-1] if new_runs else root
    refused = error is not None and _refused(run_dir)
    if error is not None and not refused:
        raise GateInputError(
            f"pipeline run failed: {_last_error_line(log_path.read_text(encoding='utf-8'))} "
            f"(log: {log_path})"
        )
    # A refused candidate fails the run on purpose (its last task, "candidate refused"); the
    # scorecard is the aggregator's output all the same.
    scorecard_path = (
        run_dir / "aggregator" / "scorecard" if refused else Path(task.outputs["Output"].path)
    )
    card = Scorecard.from_json(scorecard_path.read_text(encoding="utf-8"))
    card_dir = _copy_scorecard(scorecard_path, run_dir, out / "scorecard")
    return LocalRun(
        scorecard=card,
        scorecard_dir=card_dir,
        run_dir=run_dir,
        promoted_version=_read_output_field(run_dir / "promote" / "promotion", "version"),
        log_path=log_path,
        tracking_uri=uri,
        approval_state=_read_output_field(run_dir / "manual-approval" / "decision", "state"),
        refusal_reasons=_refusal_file(run_dir),
    )


def _refused(run_dir: Path) -> bool:
    """Whether the run failed because the refusal step ran (not because a task crashed)."""
    return (run_dir / "refusal").is_dir() and (run_dir / "aggregator" / "scorecard").is_file()


def _refusal_file(run_dir: Path) -> Path | None:
    path = run_dir / "refusal" / "reasons"
    return path if path.is_file() else None


def _copy_scorecard(scorecard_path: Path, run_dir: Path, card_dir: Path) -> Path:
    card_dir.mkdir(exist_ok=True)
    agg_dir = run_dir / "aggregator"
    for src, name in (
        (scorecard_path, "scorecard.json"),
        (agg_dir / "scorecard_html", "scorecard.html"),
        (agg_dir / "scorecard_md", "scorecard.md"),
    ):
        if src.is_file():
            (card_dir / name).write_bytes(src.read_bytes())
    return card_dir


def _read_output_field(path: Path, key: str) -> Any:
    # A task that did not run (not promoted, no approval step) left no file: None.
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(key)
