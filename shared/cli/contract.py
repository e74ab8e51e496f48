"""``quality-gates contract infer``: write a data contract from a table the user trusts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _cmd_infer(args: argparse.Namespace) -> int:
    from quality_gates.components.contract_gate.infer import contract_yaml, infer_contract
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.io.data import read_table

    frame, _digest = read_table(args.data)
    for name in [args.key, *args.personal]:
        if name is not None and name not in frame.columns:
            raise GateInputError(f"column '{name}' is not in {args.data}")
    if args.tolerance < 0:
        raise GateInputError(f"--tolerance must be >= 0, not {args.tolerance}")
    if args.min_rows is not None and args.max_rows is not None and args.min_rows > args.max_rows:
        raise GateInputError(f"--min-rows {args.min_rows} is above --max-rows {args.max_rows}")
    section = infer_contract(
        frame,
        key=args.key,
        tolerance=args.tolerance,
        personal=tuple(args.personal),
        min_rows=args.min_rows,
        max_rows=args.max_rows,
    )
    text = contract_yaml(section, source=args.data, rows=len(frame))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(
            f"wrote the contract of {len(section['columns'])} columns to {args.out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``contract infer`` to the CLI."""
    contract = sub.add_parser("contract", help="data contracts: infer one from a trusted table")
    actions = contract.add_subparsers(dest="contract_command", required=True)
    infer = actions.add_parser(
        "infer",
        help="write the gates.contract section of a table (review it, then commit it)",
    )
    infer.add_argument("--data", required=True, help="a table you trust (CSV/Parquet)")
    infer.add_argument("--out", help="write the YAML here (default: stdout)")
    infer.add_argument("--key", help="key column (default: a distinct, complete *_id column)")
    infer.add_argument(
        "--tolerance",
        type=float,
        default=0.1,
        help="share of each numeric range its bounds are widened by (default: %(default)s)",
    )
    infer.add_argument(
        "--personal",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column holding personal data: its values are masked in examples (repeatable)",
    )
    for flag, what in (("--min-rows", "fewest"), ("--max-rows", "most")):
        infer.add_argument(
            flag,
            type=_positive_int,
            help=f"{what} rows a delivery may have (blocks); without either, the contract's row "
            "bounds are a guess from this table (a quarter to 4x its rows) that only warns",
        )
    infer.set_defaults(func=_cmd_infer)
