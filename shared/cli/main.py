"""``quality-gates``: run the gates outside Kubeflow, run the pipeline locally, compile, demo.

Exit codes follow CI conventions so that a GitHub Actions step can gate a deploy:
0 = passed or warned (promoted, for ``run``), 1 = failed (not promoted), 2 = error (bad input,
could not evaluate). Errors are one line on stderr; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from quality_gates.shared.cli.output import out as _out
from quality_gates.shared.contracts.errors import GateInputError, one_line, redact

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _exit_code(status_value: str) -> int:
    if status_value in ("passed", "warned"):
        return EXIT_OK
    if status_value == "failed":
        return EXIT_FAILED
    return EXIT_ERROR


def _read_policy(path: str):
    """Read and validate a policy file once; return ``(policy, text)``."""
    from quality_gates.shared.policy.schema import load_policy

    return load_policy(path)


def _cmd_check(args: argparse.Namespace) -> int:
    from quality_gates.components.aggregator.core import aggregate
    from quality_gates.shared.contracts.gates import gate, gate_names
    from quality_gates.shared.gates.runner import GateInputs, run_gates
    from quality_gates.shared.policy.schema import configured_gates
    from quality_gates.shared.reports.render import scorecard_markdown, write_reports

    policy, policy_text = _read_policy(args.policy)
    inputs = GateInputs(
        model_uri=args.model,
        data_uri=args.data or "",
        policy_text=policy_text,
        policy_source=args.policy,
        train_data_uri=args.train_data,
        reference_data_uri=args.reference_data,
        production_data_uri=args.production_data,
        request_log_uri=getattr(args, "request_log", None),
        sensitive_data_uri=args.sensitive_data,
        registered_model_name=args.registered_model_name,
        champion_alias=args.champion_alias,
        tracking_uri=args.tracking_uri,
        label=args.label,
    )
    if args.gate == "all":
        gates = configured_gates(policy)
        if not gates:
            raise GateInputError(f"policy {args.policy} configures no gate; add a gates section")
        gates = [g for g in gate_names() if g in gates]
    else:
        gates = [args.gate]
    for name in gates:
        spec = gate(name)
        if not args.model and not spec.model_optional:
            raise GateInputError(f"the {name} gate needs a model; pass --model")
        if not args.data and "request_log" not in spec.inputs:
            raise GateInputError(f"the {name} gate needs evaluation data; pass --data")
    results = run_gates(gates, inputs)
    for result in results.values():
        if result.status.value == "skipped":
            raise GateInputError(
                f"{result.summary} ({args.policy}); add a gates.{result.gate} section with at "
                "least one rule"
            )
    card = aggregate(
        results,
        expected=gates,
        waivers=policy.waivers,
        approval=policy.approval,
        submitted_by=_submitter(args),
        require_model_digest=False,
        model_uri=args.model,
        registered_model_name=args.registered_model_name,
    )
    if args.report_dir:
        try:
            paths = write_reports(card, args.report_dir)
        except OSError as exc:
            is_file = isinstance(exc, (FileExistsError, NotADirectoryError))
            reason = "a file is in the way of the folder" if is_file else exc.strerror or exc
            raise GateInputError(
                f"cannot write reports to --report-dir {args.report_dir}: {reason}; pass a "
                "writable folder"
            ) from None
        print(f"reports written: {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    if args.json:
        # 'all' always prints the scorecard, even when the policy configures a single gate, so a
        # script reading it does not depend on how many gates the policy has.
        only = results[args.gate] if args.gate != "all" else None
        _out(only.to_json() if only else card.to_json())
    else:
        _out(scorecard_markdown(card))
    _print_gate_errors(card.results)
    return _exit_code(card.decision.value)


def _submitter(args: argparse.Namespace) -> str | None:
    """Who submits this check or run: ``--submitted-by``, ``QUALITY_GATES_USER``, the OS user.

    None when no identity can be determined: then no waiver takes effect (its approver cannot be
    shown to be someone else), but the gates still run.
    """
    from quality_gates.components.aggregator.waivers import resolve_submitter

    return resolve_submitter(getattr(args, "submitted_by", None))


def _print_gate_errors(results) -> None:
    """One ``error:`` line on stderr per gate that could not evaluate.

    Exit code 2 promises a line on stderr: a CI log that keeps only stderr must still say why.
    """
    by_message: dict[str, list[str]] = {}
    for result in results:
        if result.status.value == "error":
            by_message.setdefault(result.error or result.summary, []).append(result.gate)
    # The same bad input (an empty data file) stops every gate: say it once.
    for message, gates in by_message.items():
        which = f"{gates[0]} gate" if len(gates) == 1 else f"{', '.join(gates)} gates"
        print(f"error: {which}: {message}", file=sys.stderr)


def _cmd_run(args: argparse.Namespace) -> int:
    from quality_gates.shared.kfp_glue.local_run import run_pipeline
    from quality_gates.shared.tracking.client import credentials_to_env

    policy, policy_text = _read_policy(args.policy)
    _check_wait_has_approvers(policy, args.approval_mode, args.policy)
    # Never a password in a pipeline parameter: kfp keeps parameters in plain text.
    args.tracking_uri = credentials_to_env(args.tracking_uri)
    out = Path(args.output_dir or tempfile.mkdtemp(prefix="quality-gates-run-"))
    run = run_pipeline(
        model_uri=args.model,
        data_uri=args.data,
        policy_text=policy_text,
        registered_model_name=args.registered_model_name,
        output_dir=out,
        champion_alias=args.champion_alias,
        staging_alias=args.staging_alias,
        experiment_name=args.experiment,
        tracking_uri=args.tracking_uri,
        sensitive_data_uri=args.sensitive_data or "",
        train_data_uri=args.train_data or "",
        reference_data_uri=args.reference_data or "",
        production_data_uri=args.production_data or "",
        request_log_uri=args.request_log or "",
        approval_mode=args.approval_mode,
        submitted_by=_submitter(args) or "",
    )
    _print_run(run, args.registered_model_name, args.staging_alias, as_json=args.json)
    _print_gate_errors(run.scorecard.results)
    if run.scorecard.all_passed and run.promoted_version:
        return EXIT_OK
    return _exit_code(run.scorecard.decision.value) or EXIT_FAILED


def _check_wait_has_approvers(policy, approval_mode: str, source: str) -> None:
    """Refuse ``approval_mode=wait`` without an ``approval`` section before anything runs.

    The manual approval step would fail only after the candidate was promoted to staging.
    """
    if approval_mode == "wait" and policy.approval is None:
        raise GateInputError(
            f"approval mode 'wait' needs an 'approval' section in {source} naming who may "
            "approve (approval.approvers); add it or use --approval-mode pending"
        )


def _print_run(run, name: str, alias: str, *, as_json: bool) -> None:
    card = run.scorecard
    if as_json:
        _out(card.to_json())
        return
    lines = [f"decision: {card.decision.value} — {card.summary}"]
    lines += [f"  blocked by {g} / {c}: {m}" for g, c, m in card.failing_checks()]
    if run.promoted_version:
        lines.append(f"promoted: {name} version {run.promoted_version} now holds alias '{alias}'")
        if run.approval_state:
            lines.append(f"approval: {run.approval_state}")
    else:
        lines.append(f"not promoted: {name} alias '{alias}' unchanged")
        if run.refusal_reasons:
            lines.append(
                f"the run ended FAILED in its 'candidate refused' step: {run.refusal_reasons}"
            )
    lines += [
        f"scorecard: {run.scorecard_dir / 'scorecard.html'}",
        f"           {run.scorecard_dir / 'scorecard.md'}",
    ]
    if card.evaluation_run_id:
        lines.append(f"evaluation run (MLflow): {card.evaluation_run_id}")
    lines += [f"registry: {redact(run.tracking_uri)}", f"kfp.local outputs: {run.run_dir}"]
    _out("\n".join(lines))


def _cmd_compile(args: argparse.Namespace) -> int:
    from quality_gates.pipelines.compile import compile_all

    literal = (args.mlflow_secret, args.mlflow_config) if args.literal_secret_names else None
    try:
        written = compile_all(
            output_root=args.output_root,
            components=not args.pipeline_only,
            resources_file=args.resources,
            literal_names=literal,
        )
    except ValueError as exc:
        raise GateInputError(str(exc)) from None
    _out("\n".join(str(p) for p in written))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from quality_gates.shared.demo.run import run_demo

    scenario = "weak" if args.fail else args.scenario
    if scenario == "canary":
        from quality_gates.shared.demo.canary import run_canary_demo

        return run_canary_demo(home=args.home)
    return run_demo(home=args.home, scenario=scenario, rows=args.rows)


def _add_check_command(sub: argparse._SubParsersAction) -> None:
    from quality_gates.shared.contracts.gates import gate_names

    check = sub.add_parser("check", help="run one gate (or all configured) and print a scorecard")
    check.add_argument(
        "gate", choices=[*gate_names(), "all"], help="gate to run; 'all' runs every configured gate"
    )
    check.add_argument("--model", help="model URI or local .joblib/.skops file")
    check.add_argument(
        "--data", help="evaluation data (CSV/Parquet path or URI); every gate but shadow needs it"
    )
    check.add_argument("--train-data", help="training data (the pii gate scans it too)")
    check.add_argument(
        "--reference-data", help="reference data the drift gate compares --data with"
    )
    check.add_argument(
        "--production-data", help="recent labelled production sample (the decay gate)"
    )
    check.add_argument(
        "--request-log",
        help="logged production requests with production's answers: a Parquet/CSV table or "
        "KServe payload-logger events as JSON Lines (the shadow gate)",
    )
    check.add_argument("--sensitive-data", help="sensitive attributes file (fairness gate)")
    check.add_argument("--policy", required=True, help="policy.yaml")
    check.add_argument("--label", help="label column (overrides data.label of the policy)")
    check.add_argument("--registered-model-name", help="registered model holding the champion")
    check.add_argument("--champion-alias", help="alias of the champion (overrides the policy)")
    check.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    check.add_argument("--report-dir", help="also write scorecard.json/.md/.html here")
    check.add_argument(
        "--submitted-by",
        help="who submits the check (may not grant its waivers; default QUALITY_GATES_USER, "
        "then the OS user)",
    )
    check.add_argument(
        "--json", action="store_true", help="print the GateResult JSON (the scorecard for 'all')"
    )
    check.set_defaults(func=_cmd_check)


def _add_run_command(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the whole pipeline locally through kfp.local")
    run.add_argument("--model", required=True, help="candidate model URI")
    run.add_argument("--data", required=True, help="evaluation data")
    run.add_argument("--policy", required=True, help="policy.yaml")
    run.add_argument("--registered-model-name", required=True, help="registered model name")
    run.add_argument("--sensitive-data", help="sensitive attributes file (fairness gate)")
    run.add_argument("--train-data", help="training data (scanned by the pii gate)")
    run.add_argument("--reference-data", help="reference data of the drift gate")
    run.add_argument("--production-data", help="labelled production sample (decay gate)")
    run.add_argument("--request-log", help="logged production requests (shadow gate)")
    run.add_argument(
        "--approval-mode",
        choices=["pending", "wait"],
        default="pending",
        help="pending: stop at staging awaiting `quality-gates approve`; wait: poll for a decision",
    )
    run.add_argument("--submitted-by", help="who submits the run (may not approve it)")
    run.add_argument("--champion-alias", default="production")
    run.add_argument("--staging-alias", default="staging")
    run.add_argument("--experiment", default="quality-gates", help="MLflow experiment name")
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    run.add_argument("--output-dir", help="folder for outputs (default: a new temp folder)")
    run.add_argument("--json", action="store_true", help="print the scorecard JSON")
    run.set_defaults(func=_cmd_run)


def _add_demo_command(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="end-to-end demo on synthetic credit-risk data")
    demo.add_argument(
        "--home",
        default=os.environ.get("QUALITY_GATES_DEMO_HOME", ".demo"),
        help="demo folder: data, models, sqlite MLflow registry, outputs",
    )
    demo.add_argument(
        "--scenario",
        choices=["candidate", "weak", "biased", "leaky", "drift", "slow", "canary"],
        default="candidate",
        help="what to gate: the good candidate (promoted); a weak or biased model, leaky data, "
        "a broken, drifted feed or a huge, slow forest (refused); canary: a bad canary rolled "
        "back and a good one promoted through nginx, MLServer and Prometheus",
    )
    demo.add_argument("--fail", action="store_true", help="same as --scenario weak")
    demo.add_argument("--rows", type=int, default=20000, help="rows of synthetic data")
    demo.set_defaults(func=_cmd_demo)


def _cmd_shadow(args: argparse.Namespace) -> int:
    """``quality-gates shadow``: the shadow gate alone, as ``check shadow`` runs it."""
    args.gate, args.request_log, args.data = "shadow", args.log, None
    for name in ("train_data", "reference_data", "production_data", "sensitive_data", "label"):
        setattr(args, name, None)
    args.registered_model_name = args.champion_alias = None
    return _cmd_check(args)


def _add_shadow_command(sub: argparse._SubParsersAction) -> None:
    shadow = sub.add_parser(
        "shadow",
        help="score logged production requests with the candidate and compare its decisions "
        "with production's (the shadow gate)",
    )
    shadow.add_argument("--model", required=True, help="candidate model URI or local file")
    shadow.add_argument(
        "--log",
        required=True,
        help="request log: Parquet/CSV table, or KServe payload-logger events (.jsonl)",
    )
    shadow.add_argument("--policy", required=True, help="policy.yaml with a gates.shadow section")
    shadow.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    shadow.add_argument("--report-dir", help="also write scorecard.json/.md/.html here")
    shadow.add_argument("--submitted-by", help="who submits the check")
    shadow.add_argument("--json", action="store_true", help="print the GateResult JSON")
    shadow.set_defaults(func=_cmd_shadow)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``quality-gates`` command."""
    p = argparse.ArgumentParser(
        prog="quality-gates",
        description="Quality gates for ML models: check, run the gated-promotion pipeline, "
        "compile, demo. Exit codes: 0 passed/warned, 1 failed, 2 error.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True)

    _add_check_command(sub)
    _add_run_command(sub)
    comp = sub.add_parser("compile", help="compile the pipeline and every component.yaml")
    comp.add_argument("--output-root", help="repository root to write into (default: the package)")
    comp.add_argument("--pipeline-only", action="store_true")
    comp.add_argument(
        "--resources",
        metavar="FILE",
        help="YAML of per-component CPU/memory requests and limits overriding the defaults",
    )
    comp.add_argument(
        "--literal-secret-names",
        action="store_true",
        help="for KFP backends before 2.4 (Kubeflow 1.9): literal Secret/ConfigMap names, "
        "no secretNameParameter/optional fields",
    )
    comp.add_argument(
        "--mlflow-secret",
        default="quality-gates-mlflow",
        help="Secret name written by --literal-secret-names (default: %(default)s)",
    )
    comp.add_argument(
        "--mlflow-config",
        default="quality-gates-config",
        help="ConfigMap name written by --literal-secret-names (default: %(default)s)",
    )
    comp.set_defaults(func=_cmd_compile)

    _add_demo_command(sub)
    _add_shadow_command(sub)

    from quality_gates.shared.cli.approval import add_commands

    add_commands(sub)
    from quality_gates.shared.cli.auth import add_commands as add_auth_commands

    add_auth_commands(sub)
    from quality_gates.shared.cli.submit import add_commands as add_submit_command

    add_submit_command(sub)
    from quality_gates.shared.cli.contract import add_commands as add_contract_commands

    add_contract_commands(sub)
    from quality_gates.shared.cli.drift import add_commands as add_drift_commands

    add_drift_commands(sub)
    from quality_gates.shared.cli.release import add_commands as add_release_commands

    add_release_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``quality-gates`` command.

    Args:
        argv: Arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The process exit code.
    """
    args = build_parser().parse_args(argv)
    # MLflow configures its own logger at import time from this variable (INFO by default).
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "DEBUG" if args.debug else "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)
    # MLflow and alembic are chatty at INFO; a gate's output is the scorecard.
    for name in ("mlflow", "alembic", "urllib3", "kfp"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.debug else logging.ERROR)
    try:
        return args.func(args)
    except GateInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - one line for people, traceback with --debug
        if args.debug:
            raise
        print(f"error: {one_line(exc)} (re-run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
