"""``quality-gates drift profile``: the drift gate's reference profile, built once per model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_profile(args: argparse.Namespace) -> int:
    from quality_gates.components.drift_gate import profile
    from quality_gates.components.drift_gate.core import skipped_columns
    from quality_gates.components.drift_gate.policy import DriftPolicy
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.io.data import read_table
    from quality_gates.shared.policy.schema import load_policy

    if not args.out and not args.log_to:
        raise GateInputError("pass --out PATH, --log-to models:/<name>/<version>, or both")
    policy, _text = load_policy(args.policy)
    # Without a drift section the gate's defaults apply (every column, max_categories 200).
    section = policy.gates.drift or DriftPolicy()
    frame, digest = read_table(args.data)
    built = profile.build_profile(
        frame,
        section,
        skip=skipped_columns(policy.data),
        source={"uri": args.data, "sha256": digest},
    )
    text = profile.to_json(built).encode("utf-8")
    out = Path(args.out) if args.out else None
    if out is not None:
        out.write_bytes(text)
    said = f"profiled {len(built.columns)} columns of {built.rows} rows"
    print(f"{said}{f' to {out}' if out else ''} ({profile.digest_of(text)})", file=sys.stderr)
    if args.log_to:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="qg-profile-") as tmp:
            path = out or Path(tmp) / "reference.profile.json"
            if out is None:
                path.write_bytes(text)
            stored = profile.log_to_version(
                path, args.log_to, digest=profile.digest_of(text), tracking_uri=args.tracking_uri
            )
        print(f"stored with {stored}: --reference-data {stored} reads it", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``drift profile`` to the CLI."""
    drift = sub.add_parser("drift", help="drift gate tools: build a reference profile")
    actions = drift.add_subparsers(dest="drift_command", required=True)
    prof = actions.add_parser(
        "profile",
        help="write the reference profile the drift gate compares with (instead of the table)",
    )
    prof.add_argument("--data", required=True, help="the reference table (CSV/Parquet)")
    prof.add_argument(
        "--policy", required=True, help="policy YAML (data: label/exclude; gates.drift: columns)"
    )
    prof.add_argument("--out", help="write the profile JSON here")
    prof.add_argument(
        "--log-to",
        metavar="MODELS_URI",
        help="store it with a model version (models:/<name>/<version> or models:/<name>@<alias>)",
    )
    prof.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    prof.set_defaults(func=_cmd_profile)
