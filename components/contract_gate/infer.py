"""Infer a data contract from a table the user trusts, as YAML they review and commit.

The inferred bounds describe the table as it is, widened where a healthy next delivery would
differ: numeric ranges get a tolerance, missing shares a margin, the row count a factor. Columns
whose every value is distinct and that look like identifiers become the key; text columns with
many distinct values get no domain (free text is not a category).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import yaml

from quality_gates.components.contract_gate.core import kind_of

#: A text column with more distinct values than this (or than half its rows) gets no domain.
MAX_DOMAIN = 100
#: Missing shares get this absolute margin (and at least double), so 0.4% may become 0.8%+1%.
MISSING_MARGIN = 0.01
#: Row-count bounds: this factor below and above the inferred table's count.
ROWS_FACTOR = 4


def _missing_bound(share: float) -> float:
    if share == 0:
        return 0.0
    return min(1.0, round(2 * share + MISSING_MARGIN, 4))


def _column(series: pd.Series, *, tolerance: float, is_key: bool) -> dict:
    kind = kind_of(series)
    present = series.dropna()
    out: dict = {
        "dtype": kind,
        "max_missing_share": _missing_bound(1 - len(present) / max(len(series), 1)),
    }
    if kind in ("integer", "float") and len(present) and not is_key:  # new keys: any value
        values = present.to_numpy(dtype=float)
        out |= {"min": float(values.min()), "max": float(values.max()), "tolerance": tolerance}
    elif kind in ("string", "boolean") and not is_key:
        distinct = present.astype(str).unique()
        if len(distinct) <= min(MAX_DOMAIN, max(len(present) // 2, 2)):
            out |= {"domain": sorted(map(str, distinct)), "max_unseen_share": 0.0}
    if is_key:
        out |= {"unique": True, "key": True}
    return out


def _key_column(frame: pd.DataFrame, key: str | None) -> str | None:
    if key is not None:
        return key
    for name in frame.columns:
        s = frame[name]
        looks_like_id = "id" in str(name).lower().replace("-", "_").split("_")
        if (
            looks_like_id
            and s.notna().all()
            and s.is_unique
            and kind_of(s) in ("string", "integer")
        ):
            return name
    return None


def infer_contract(
    frame: pd.DataFrame,
    *,
    key: str | None = None,
    tolerance: float = 0.1,
    personal: tuple[str, ...] = (),
    min_rows: int | None = None,
    max_rows: int | None = None,
) -> dict:
    """Infer the ``gates.contract`` section of a table.

    The row count of the next delivery is not a property of this table: an evaluation set or a
    production sample is often a fraction of the training data. Without ``min_rows`` or
    ``max_rows`` the bounds are a guess (a quarter to four times this table's rows) that only
    *warns*; bounds the user states block.

    Args:
        frame: A table the user trusts (usually the training data).
        key: The key column; default the first distinct, complete column named like an id.
        tolerance: Share of each numeric range its bounds are widened by.
        personal: Columns holding personal data (their example values are masked).
        min_rows: Fewest rows a delivery must have (blocks); default the guess above.
        max_rows: Most rows a delivery may have (blocks); default the guess above.

    Returns:
        The section as plain data (see :class:`~.policy.ContractPolicy`).
    """
    key = _key_column(frame, key)
    columns = {}
    for name in frame.columns:
        columns[str(name)] = _column(frame[name], tolerance=tolerance, is_key=name == key)
        if name in personal:
            columns[str(name)]["personal"] = True
    n = len(frame)
    if min_rows is None and max_rows is None:
        rows = {"min": max(1, n // ROWS_FACTOR), "max": n * ROWS_FACTOR if n else None}
        rows["severity"] = "warn"
    else:
        rows = {"min": 1 if min_rows is None else min_rows, "max": max_rows, "severity": "block"}
    return {"rows": rows, "columns": columns, "extra_columns": "warn"}


def contract_yaml(section: dict, *, source: str, rows: int) -> str:
    """Render the section as a commented ``gates: {contract: ...}`` YAML document."""
    header = (
        f"# Data contract inferred from {source} ({rows} rows) on "
        f"{datetime.now(UTC):%Y-%m-%d} by `quality-gates contract infer`.\n"
        "# Review every bound before you commit it: it says what the next delivery may look like.\n"
        "# The row bounds warn unless given (--min-rows / --max-rows): set them for your feed.\n"
        "# Merge the `contract` section under `gates:` in your policy.\n"
    )
    clean = yaml.safe_dump({"gates": {"contract": section}}, sort_keys=False, allow_unicode=True)
    return header + clean
