"""``quality-gates submit``: compile the gated-promotion pipeline and run it on Kubeflow Pipelines.

Prints the pipeline version, the run id and the run's URL in the KFP UI; never a credential.
With ``--wait`` it follows the run and exits with its outcome, so a CI job can gate on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime

from quality_gates.shared.cli.output import out
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.tasks import PROMOTE_TASK, REFUSAL_TASK

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_TIMEOUT = 0, 1, 2, 3
DEFAULT_POLL_S = 5.0

_EPILOG = """\
authentication (at most one; none for a port-forwarded single-user KFP):
  --token T / KFP_TOKEN    bearer token (e.g. `kubectl create token ...`)
  --token-file PATH        service-account token file, re-read before every request
                           (in a pod: /var/run/secrets/kubeflow/pipelines/token)
  --cookie NAME=VALUE      session cookie of a Kubeflow login (authservice_session=...)

exit codes:
  0  submitted (with --wait: the run SUCCEEDED and the candidate was promoted to staging)
  1  with --wait: the candidate was not promoted: refused by the gates (the task
     "candidate refused" ran), or the run FAILED, was CANCELED or SKIPPED (failing tasks
     are named)
  2  usage, input, connection or authentication error (one line on stderr)
  3  with --wait: --timeout passed before the run finished (the run keeps going)

example:
  quality-gates submit --host https://kubeflow.example.com/pipeline --token-file /run/kfp-token \\
      --model-uri models:/credit-risk/7 --data-uri s3://bucket/eval.parquet \\
      --policy policy.yaml --registered-model-name credit-risk \\
      --param sensitive_data_uri=s3://bucket/sensitive.parquet --wait --timeout 3600
"""


# Pipeline parameters that name something the cluster's pods must read.
_URI_PARAMS = ("model_uri", "data_uri", "train_data_uri", "sensitive_data_uri")


def _check_remote_uris(arguments: dict) -> None:
    """Refuse a relative local path: the pods run elsewhere, with another working folder.

    Absolute paths are let through (a volume the pods mount may hold them).
    """
    for key in _URI_PARAMS:
        value = str(arguments.get(key) or "").strip()
        if value and "://" not in value and not value.startswith(("/", "models:", "runs:")):
            flag = "--" + key.replace("_", "-") if key in ("model_uri", "data_uri") else key
            raise GateInputError(
                f"{flag} {value} is a relative local path that the pipeline's pods cannot read; "
                "upload it and pass models:/, runs:/, s3:// or gs:// (or an absolute path on a "
                "volume the pods mount)"
            )


def _check_host_and_timeout(args: argparse.Namespace) -> str:
    """Return the KFP host; refuse a missing or non-HTTP host and a misused --timeout."""
    host = (args.host or os.environ.get("KFP_HOST") or "").strip()
    if not host:
        raise GateInputError(
            "pass --host (or set KFP_HOST) to the KFP endpoint, e.g. https://kubeflow.example.com/pipeline"
        )
    if not host.startswith(("http://", "https://")):
        raise GateInputError(f"--host {host} must start with http:// or https://")
    if args.timeout is not None and not args.wait:
        raise GateInputError("--timeout applies to --wait; add --wait or drop --timeout")
    if args.timeout is not None and args.timeout <= 0:
        raise GateInputError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    return host


def _follow_run(
    client: object, run_id: str, args: argparse.Namespace, *, host: str, auth: object, url: str
) -> int:
    """Wait for the run (``--wait``), print its outcome and return the exit code."""
    from quality_gates.shared.kfp_glue import connection as kc
    from quality_gates.shared.kfp_glue import submit as ks

    with kc.api_errors(host, auth, f"following run {run_id}"):
        outcome = ks.wait_for_run(
            client,
            run_id,
            timeout_s=args.timeout,
            poll_s=args.poll_interval,
            on_state=lambda state: print(f"state: {state}", file=sys.stderr, flush=True),
        )
    if outcome.timed_out:
        print(
            f"timeout: run {run_id} still {outcome.state} after {args.timeout:g} s; it keeps "
            f"running, follow it at {url}",
            file=sys.stderr,
        )
        return EXIT_TIMEOUT
    line = f"result: run {run_id} {outcome.state}"
    if outcome.candidate == ks.PROMOTED and outcome.state == ks.SUCCEEDED:
        out(f"{line}; candidate promoted to staging")
        return EXIT_OK
    if outcome.candidate == ks.REFUSED:
        line += f"; candidate refused by the gates (task '{REFUSAL_TASK}' names why)"
    elif outcome.candidate == ks.PROMOTED:
        line += "; candidate promoted to staging, but a later task failed"
    else:
        line += f"; not promoted (no '{PROMOTE_TASK}' task succeeded)"
    if outcome.failed_tasks:
        line += f"; failed tasks: {', '.join(outcome.failed_tasks)}"
    if outcome.error:
        line += f" ({outcome.error})"
    out(line)
    return EXIT_FAILED


def _cmd_submit(args: argparse.Namespace) -> int:
    from quality_gates.shared.kfp_glue import connection as kc
    from quality_gates.shared.kfp_glue import submit as ks
    from quality_gates.shared.policy.schema import load_policy

    host = _check_host_and_timeout(args)
    auth = kc.resolve_auth(
        token=args.token,
        token_file=args.token_file,
        cookie=args.cookie,
        env_token=os.environ.get("KFP_TOKEN"),
    )
    # Everything that can be checked locally is checked before the first request.
    policy, policy_text = load_policy(args.policy)
    with tempfile.TemporaryDirectory(prefix="quality-gates-submit-") as workdir:
        package = ks.compiled_or_given(args.package, workdir)
        arguments = ks.build_arguments(
            package,
            {
                "model_uri": args.model_uri,
                "data_uri": args.data_uri,
                "policy": policy_text,
                "registered_model_name": args.registered_model_name,
            },
            args.param or [],
        )
        _check_remote_uris(arguments)
        if arguments.get("approval_mode") == "wait" and policy.approval is None:
            # Otherwise the run fails at the approval step, after promoting to staging.
            raise GateInputError(
                f"--param approval_mode=wait needs an 'approval' section in {args.policy} "
                "naming who may approve (approval.approvers); add it or use approval_mode=pending"
            )
        pipeline_name = args.pipeline_name or package.name
        version_name = args.version or package.default_version
        kc.preflight(host, auth, namespace=args.namespace)
        client = kc.connect(host, auth, namespace=args.namespace)
        doing = f"uploading pipeline '{pipeline_name}' version '{version_name}'"
        with kc.api_errors(host, auth, doing):
            version = ks.ensure_pipeline_version(
                client, package, pipeline_name=pipeline_name, version_name=version_name
            )
    how = "uploaded" if version.uploaded else "already on the server, reused"
    out(f"pipeline: {pipeline_name} version {version_name} ({how})")
    with kc.api_errors(host, auth, f"creating experiment '{args.experiment}'"):
        experiment = client.create_experiment(args.experiment, namespace=args.namespace)
    run_name = args.run_name or (f"{pipeline_name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}")
    with kc.api_errors(host, auth, f"starting run '{run_name}'"):
        run = client.run_pipeline(
            experiment_id=experiment.experiment_id,
            job_name=run_name,
            params=arguments,
            pipeline_id=version.pipeline_id,
            version_id=version.version_id,
            service_account=args.service_account,
        )
    # KF_PIPELINES_UI_ENDPOINT is kfp's own override for when the API and the UI differ.
    ui = os.environ.get("KF_PIPELINES_UI_ENDPOINT") or host
    url = f"{ui.rstrip('/')}/#/runs/details/{run.run_id}"
    out(f"run: {run.run_id} ({run_name}) in experiment '{args.experiment}'")
    out(f"url: {url}")
    if not args.wait:
        return EXIT_OK
    return _follow_run(client, run.run_id, args, host=host, auth=auth, url=url)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the ``submit`` command to the CLI."""
    p = sub.add_parser(
        "submit",
        help="compile the gated-promotion pipeline and run it on Kubeflow Pipelines",
        description="Compile the gated-promotion pipeline, upload it to a KFP endpoint (one\n"
        "pipeline version per distinct compiled YAML), create the experiment if missing and\n"
        "start a run; --wait follows it and exits with its outcome.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conn = p.add_argument_group("endpoint")
    conn.add_argument("--host", help="KFP API endpoint (default: KFP_HOST)")
    conn.add_argument("--token", help="bearer token (default: KFP_TOKEN); prefer --token-file")
    conn.add_argument("--token-file", help="file holding a (service-account) bearer token")
    conn.add_argument("--cookie", help="session cookie NAME=VALUE, e.g. authservice_session=...")
    conn.add_argument("--namespace", help="Kubeflow profile namespace (multi-user KFP)")

    where = p.add_argument_group("pipeline and run")
    where.add_argument(
        "--experiment", default="quality-gates", help="KFP experiment (created if missing)"
    )
    where.add_argument("--run-name", help="run name (default: <pipeline name>-<UTC time>)")
    where.add_argument(
        "--pipeline-name", help="pipeline name on the server (default: the pipeline's)"
    )
    where.add_argument(
        "--version",
        help="pipeline version name (default: <package version>-<digest of the compiled YAML>; "
        "an existing version of that name is reused, not uploaded again)",
    )
    where.add_argument("--package", help="submit this compiled pipeline YAML instead of compiling")
    where.add_argument("--service-account", help="Kubernetes service account of the run's pods")

    params = p.add_argument_group("pipeline parameters")
    params.add_argument("--model-uri", required=True, help="candidate model URI the tasks can read")
    params.add_argument("--data-uri", required=True, help="evaluation data URI the tasks can read")
    params.add_argument(
        "--policy", required=True, help="policy.yaml (validated here, its text is passed)"
    )
    params.add_argument("--registered-model-name", required=True, help="MLflow registered model")
    params.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="any other pipeline parameter, e.g. sensitive_data_uri=..., approval_mode=wait, "
        "mlflow_secret_name=...; repeatable",
    )

    wait = p.add_argument_group("following the run")
    wait.add_argument("--wait", action="store_true", help="follow the run; exit with its outcome")
    wait.add_argument(
        "--timeout", type=_positive_float, help="with --wait: give up after S seconds (exit 3)"
    )
    wait.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=DEFAULT_POLL_S,
        help=f"with --wait: seconds between status checks (default {DEFAULT_POLL_S:g})",
    )
    p.set_defaults(func=_cmd_submit)
