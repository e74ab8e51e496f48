"""``quality-gates approve|reject|status|rollback|audit``: the human side of promotion.

Identity is the user the MLflow server authenticated (``--as`` must match it); without server
authentication it comes from ``--as``, then ``QUALITY_GATES_USER``, then the OS user, and is
recorded as unauthenticated. It is printed back so nobody approves under a name they did not
mean. Authority (who may decide) is the recorded policy's, never ``--policy``'s. Every refusal is
one line and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys

from quality_gates.shared.cli.output import out
from quality_gates.shared.contracts.errors import GateInputError


def _policy_text(path: str | None) -> str | None:
    """The text of ``--policy`` (only compared with the recorded policy), or None."""
    if not path:
        return None
    from quality_gates.shared.policy.schema import load_policy

    _, text = load_policy(path)
    return text


def _approval_policy(path: str | None):
    from quality_gates.shared.policy.schema import load_policy

    policy, _ = load_policy(path)
    if policy.approval is None:
        raise GateInputError(
            f"policy {path} has no 'approval' section; add approval.approvers (who may approve)"
        )
    return policy.approval


def _say_identity(tracking_uri: str | None, claimed: str | None) -> str:
    from quality_gates.shared.tracking.client import resolve_tracking_uri
    from quality_gates.shared.tracking.identity import acting_identity

    who = acting_identity(claimed, resolve_tracking_uri(tracking_uri))
    how = (
        "authenticated by the MLflow server"
        if who.authenticated
        else (f"from {who.source}, NOT authenticated: the record says so")
    )
    print(f"acting as {who.name} ({how})", file=sys.stderr)
    return who.name


def _cmd_decide(args: argparse.Namespace) -> int:
    from quality_gates.shared.governance import approval

    text = _policy_text(args.policy)
    who = _say_identity(args.tracking_uri, args.identity)
    fn = approval.approve if args.command == "approve" else approval.reject
    done = fn(
        name=args.model,
        version=str(args.version),
        approver=who,
        comment=args.comment,
        tracking_uri=args.tracking_uri,
        policy_text=text,
    )
    if done.alias:
        before = f" (was v{done.previous_version})" if done.previous_version else ""
        out(f"{done.state}: {done.name} v{done.version} now holds '{done.alias}'{before}")
    else:
        out(f"{done.state}: {done.name} v{done.version} by {done.actor}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from quality_gates.shared.governance import approval

    text = _policy_text(args.policy)
    who = _say_identity(args.tracking_uri, args.identity)
    done = approval.rollback(
        name=args.model,
        reason=args.reason,
        actor=who,
        tracking_uri=args.tracking_uri,
        policy_text=text,
    )
    out(
        f"rolled back: {done.name} '{done.alias}' moved from v{done.from_version} to "
        f"v{done.to_version}"
    )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from quality_gates.shared.governance import approval

    policy = None
    if args.policy:
        policy = _approval_policy(args.policy)
    report = approval.status(name=args.model, tracking_uri=args.tracking_uri, policy=policy)
    out(json.dumps(report, indent=2, default=str) if args.json else approval.format_status(report))
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from quality_gates.shared.governance import audit

    if args.action == "keygen":
        from quality_gates.shared.governance.signing import generate

        private, public, kid = generate(args.out or ".")
        out(f"audit signing key {kid}: {private} (secret, mode 0600), {public} (give to verifiers)")
        return 0
    if not args.file and not args.model:
        raise GateInputError("pass --model NAME (log in MLflow) or --file PATH (a JSON Lines copy)")
    from quality_gates.shared.governance.signing import trusted_keys

    trusted = trusted_keys(args.public_key or None)
    if args.file:
        from pathlib import Path

        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise GateInputError(f"cannot read audit file {args.file}: {exc.strerror}") from None
        records = audit.parse_jsonl(text)
        problems = audit.verify(records, trusted=trusted or None)
    else:
        try:
            records = audit.read(model=args.model, tracking_uri=args.tracking_uri)
        except GateInputError:
            if args.action != "verify":
                raise
            # More than one audit run (a planted log): verification names each and fails.
            problems = audit.verify_model(
                model=args.model, tracking_uri=args.tracking_uri, trusted=trusted or None
            )
            for line in problems:
                out(f"audit: {line}")
            return 1 if problems else 2
        if not records:
            from quality_gates.shared.governance.approval import status

            # A name with no log is usually a typo or the wrong registry: say so (exit 2) rather
            # than report a broken chain (exit 1) or print nothing. Raises when the name is unknown.
            status(name=args.model, tracking_uri=args.tracking_uri)
        problems = _verify_model(args, records, trusted or None) if args.action == "verify" else []
    if args.action == "show":
        if not records:
            print(f"audit: no records for '{args.model or args.file}' yet", file=sys.stderr)
            return 0
        out(audit.render(records))
        return 0
    if problems:
        for line in problems:
            out(f"audit: {line}")
        return 1
    signed = (
        f"every record signed by a trusted key ({', '.join(sorted(trusted))})"
        if trusted
        else "signatures NOT checked (no trusted key: pass --public-key or set "
        "QUALITY_GATES_AUDIT_PUBLIC_KEYS); a consistent rewrite would not be detected"
    )
    reconciled = "; registry matches the log" if args.model else ""
    out(f"audit log intact: {len(records)} records, hash chain verified, {signed}{reconciled}")
    return 0


def _verify_model(args: argparse.Namespace, records: list, trusted: dict | None) -> list[str]:
    from quality_gates.shared.governance import audit
    from quality_gates.shared.governance.reconcile import reconcile
    from quality_gates.shared.tracking.client import connect, mlflow_call, resolve_tracking_uri

    problems = audit.verify_model(
        model=args.model, tracking_uri=args.tracking_uri, mirror=args.mirror, trusted=trusted
    )
    tracking = resolve_tracking_uri(args.tracking_uri)
    with mlflow_call(doing=f"reconciling '{args.model}' with its log", tracking_uri=tracking):
        problems += reconcile(connect(tracking), args.model, records)
    return problems


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the approval, rollback, status and audit commands to the CLI."""

    def common(p: argparse.ArgumentParser, *, version: bool = False) -> None:
        p.add_argument("--model", required=True, help="registered model name")
        if version:
            p.add_argument("--version", required=True, help="model version")
        p.add_argument(
            "--policy",
            help="optional: the policy you expect in force; refused unless it is the one the "
            "gates ran with (authority always comes from that recorded policy)",
        )
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")

    for verb, helptext in (
        ("approve", "approve a staged version and move 'production' to it"),
        ("reject", "reject a staged version (no alias changes)"),
    ):
        p = sub.add_parser(verb, help=helptext)
        common(p, version=True)
        p.add_argument("--comment", required=True, help="why (kept with the decision)")
        p.add_argument(
            "--as",
            dest="identity",
            help="your identity; must match the user the MLflow server authenticates (default: "
            "that user, else QUALITY_GATES_USER or the OS user, recorded as unauthenticated)",
        )
        p.set_defaults(func=_cmd_decide)

    p = sub.add_parser("rollback", help="move 'production' back to the previous approved version")
    common(p)
    p.add_argument("--reason", required=True, help="why (kept in the audit log)")
    p.add_argument("--as", dest="identity", help="your identity")
    p.set_defaults(func=_cmd_rollback)

    p = sub.add_parser("status", help="aliases, pending approvals and gate summary per version")
    common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("audit", help="show or verify the hash-chained audit log of a model")
    p.add_argument("action", choices=["show", "verify", "keygen"])
    p.add_argument("--model", help="registered model name (log kept in MLflow)")
    p.add_argument("--file", help="verify a JSON Lines copy instead (e.g. the mirror)")
    p.add_argument("--mirror", help="also verify the mirror folder against MLflow")
    p.add_argument(
        "--public-key",
        action="append",
        help="trusted Ed25519 public key (PEM) of the audit signers; repeatable (default "
        "QUALITY_GATES_AUDIT_PUBLIC_KEYS, else the public half of QUALITY_GATES_AUDIT_KEY)",
    )
    p.add_argument("--out", help="keygen: folder to write audit-key.pem and audit-public.pem to")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    p.set_defaults(func=_cmd_audit)
