"""``quality-gates rollout``: a metric-driven canary of an approved version on a cluster."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_rollout(args: argparse.Namespace) -> int:
    from quality_gates.shared.release.run import Target, rollout_version
    from quality_gates.shared.tracking.identity import claimed_identity

    actor, _source = claimed_identity(args.actor)
    target = Target(namespace=args.namespace, isvc=args.isvc,
                    virtual_service=args.virtual_service, canary_isvc=args.canary_isvc)  # fmt: skip
    result = rollout_version(
        name=args.model,
        version=args.version,
        target=target,
        actor=actor,
        prometheus_url=args.prometheus_url,
        tracking_uri=args.tracking_uri,
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    for stage in result.stages:
        line = (
            f"stage {stage.percent}%: {stage.canary_requests} canary / "
            f"{stage.stable_requests} stable requests, {stage.bakes} bake(s): {stage.decision}"
        )
        print(line, file=sys.stderr)
    print(f"{result.outcome}: {result.message}", file=sys.stderr)
    return result.exit_code


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``rollout`` to the CLI."""
    p = sub.add_parser(
        "rollout",
        help="canary rollout of an approved version: stages, live metrics, promote or roll back",
        description="Step traffic to the canary through release.canary.stages of the policy the "
        "version was gated under, judge each stage on Prometheus metrics, roll back (all "
        "traffic to stable, production unchanged) or promote (production moves at 100%%). "
        "Exit codes: 0 promoted, 1 rolled back, 2 error (held: traffic unchanged).",
    )
    p.add_argument("--model", required=True, help="registered (gated) model name")
    p.add_argument("--version", required=True, help="the approved version to roll out")
    p.add_argument("--namespace", required=True, help="namespace of the InferenceService")
    p.add_argument("--isvc", required=True, help="the stable (Serverless: the only) isvc")
    p.add_argument("--virtual-service", help="Standard mode: Istio VirtualService with weights")
    p.add_argument("--canary-isvc", help="Standard mode with Istio: the canary isvc")
    p.add_argument("--prometheus-url", help="overrides release.canary.metrics.prometheus_url")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    p.add_argument("--as", dest="actor", help="the rollout's identity for the audit log")
    p.add_argument("--json", action="store_true", help="print the stages and checks as JSON")
    p.set_defaults(func=_cmd_rollout)
