"""``quality-gates auth setup|check``: MLflow basic-auth permissions for the gated promotion.

``setup`` (as an MLflow admin) creates the gated and the production registered model and the
evaluation and audit experiments, and grants the permission table of
shared/governance/permissions.py; running it again changes nothing. ``check`` prints one line per
problem and exits 1 when there is any. Credentials come from ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD`` and are never printed.
"""

from __future__ import annotations

import argparse

from quality_gates.shared.cli.output import out

EXIT_PROBLEMS = 1


def _targets(args: argparse.Namespace) -> dict:
    production = args.production_model or f"{args.model}-production"
    return {
        "tracking_uri": args.tracking_uri,
        "model": args.model,
        "production_model": production,
        "pipeline_users": args.pipeline_user,
        "approvers": args.approver,
    }


def _cmd_setup(args: argparse.Namespace) -> int:
    from quality_gates.shared.governance.permissions import setup_permissions

    for line in setup_permissions(**_targets(args)):
        out(line)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from quality_gates.shared.governance.permissions import check_permissions

    problems = check_permissions(**_targets(args))
    for problem in problems:
        out(f"problem: {problem}")
    if not problems:
        out("ok: the MLflow server enforces the permission table")
    return EXIT_PROBLEMS if problems else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``auth setup`` and ``auth check`` to the CLI."""
    auth = sub.add_parser("auth", help="MLflow basic-auth permissions (who may move production)")
    actions = auth.add_subparsers(dest="auth_command", required=True)
    for name, helptext, func in (
        ("setup", "create the models and experiments and grant the permission table", _cmd_setup),
        ("check", "report permissions that break the table (exit 1 on any)", _cmd_check),
    ):
        p = actions.add_parser(name, help=helptext)
        p.add_argument("--model", required=True, help="the gated registered model")
        p.add_argument(
            "--production-model",
            help="registered model holding 'production' (default NAME-production; the "
            "policy's approval.production_model)",
        )
        p.add_argument(
            "--pipeline-user",
            action="append",
            required=True,
            help="MLflow user the pipeline's tasks authenticate as (repeatable)",
        )
        p.add_argument(
            "--approver",
            action="append",
            required=True,
            help="MLflow user who approves (repeatable)",
        )
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
        p.set_defaults(func=func)
