"""PII scan gate: personal data in the data, the feature names or the pipeline's artifacts blocks.

It scans the training and evaluation data, the model's feature names and the artifacts the
pipeline produced (other gates' reports), and reports every example masked.

Pure functions over pyarrow/numpy/pandas; no kfp import. :func:`evaluate_gate` is the registry's
entry point (``gate.py``): the run template loads the inputs and writes the result.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from quality_gates.components.pii_scan_gate.context import (
    ENTITIES,
    column_hints,
    column_lowers,
)
from quality_gates.components.pii_scan_gate.detectors import (
    HINT_ONLY_CONFIDENCE,
    Findings,
    scan_array,
    variants,
)
from quality_gates.components.pii_scan_gate.masking import mask
from quality_gates.components.pii_scan_gate.policy import PiiPolicy
from quality_gates.components.pii_scan_gate.validators import region_code
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.context import Evaluation, GateContext

GATE = "pii"
log = logging.getLogger("quality_gates.pii")

_EXAMPLES = 3
# Inline images of HTML reports are base64 noise: never PII, and slow to scan.
_DATA_URI = re.compile(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=]+")
_MAX_ARTIFACT_BYTES = 50_000_000


# --------------------------------------------------------------------------------------------
# Scanning


@dataclass
class ColumnScan:
    """What was found in one column of one table (raw values already masked)."""

    column: str
    display: str
    non_null: int
    counted_cells: int = 0
    per_entity: dict[str, dict[str, Any]] = field(default_factory=dict)
    hint_only: list[str] = field(default_factory=list)


@dataclass
class TableScan:
    """What was found in one table."""

    name: str
    rows: int
    scanned_rows: int
    text_bytes: int
    columns: list[ColumnScan]
    header_findings: int


def _allowed_for(policy: PiiPolicy, column: str) -> dict[str, str]:
    """Entity type → rationale of what the policy allows in ``column``."""
    out: dict[str, str] = {}
    for rule in policy.allow:
        if rule.column == column:
            for entity in rule.entities or ENTITIES:
                out.setdefault(entity, rule.rationale)
    return out


def _as_text(series: pd.Series) -> pa.Array | None:
    """The column as text to scan, or None for types that cannot hold the entities."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return None
    if pd.api.types.is_integer_dtype(dtype):
        # Card numbers, SSNs and phone numbers are often stored as integers.
        return pa.array(series, from_pandas=True).cast(pa.string())
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pa.array(series.dt.strftime("%Y-%m-%d"), from_pandas=True)
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(series.astype("string"), from_pandas=True)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr
    if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_nested(arr.type):
        # Lists, structs and maps (Parquet nested columns, JSON-like records) cannot be cast to
        # text by Arrow; skipping them would pass personal data stored one level down.
        return pa.array(series.map(_nested_text, na_action="ignore"), type=pa.string())
    try:
        return arr.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _nested_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


def _summarise(
    findings: Findings,
    *,
    min_confidence: float,
    allowed: dict[str, str],
) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """Per entity: cells, allowed or counted, max confidence, masked examples; counted mask."""
    per_entity: dict[str, dict[str, Any]] = {}
    strong = findings.confidence >= min_confidence
    counted = np.zeros(len(findings), dtype=bool)
    for code in np.unique(findings.entity):
        entity = ENTITIES[int(code)]
        sel = findings.entity == code
        idx = np.flatnonzero(sel & strong)
        weak = np.flatnonzero(sel & ~strong)
        entry: dict[str, Any] = {
            "cells": int(np.unique(findings.row[idx]).size),
            "below_confidence": int(np.unique(findings.row[weak]).size),
            "max_confidence": float(findings.confidence[sel].max()),
            "allowed": entity in allowed,
            "rationale": allowed.get(entity, ""),
            "examples": [],
        }
        if entity not in allowed:
            counted[idx] = True
        # Examples: a handful of distinct values, masked here and nowhere later.
        shown = idx if idx.size else weak
        picked = findings.values.take(pa.array(shown[:50], pa.int64())).to_pylist()
        examples: list[str] = []
        for raw in dict.fromkeys(picked):
            examples.append(mask(entity, raw))
            if len(examples) == _EXAMPLES:
                break
        entry["examples"] = list(dict.fromkeys(examples))
        per_entity[entity] = entry
    return per_entity, counted


def _mask_name(name: str, entities: tuple[str, ...], all_variants: list) -> tuple[str, int]:
    """A column or feature name that itself holds PII is shown masked."""
    f = scan_array(pa.array([str(name)]), entities=entities, all_variants=all_variants)
    if not len(f):
        return str(name), 0
    return mask("address", str(name)), len(f)


def scan_frame(
    frame: pd.DataFrame, *, name: str, policy: PiiPolicy, all_variants: list | None = None
) -> TableScan:
    """Scan every column of a table (a sample of its rows when it is large).

    Args:
        frame: The table.
        name: Its role (``evaluation data``), for messages.
        policy: The PII policy.
        all_variants: Pre-built detector variants.

    Returns:
        Per-column findings, masked.
    """
    entities = tuple(policy.entities)
    all_variants = all_variants or variants(tuple(policy.phone_regions))
    rows = len(frame)
    if policy.sample_rows and rows > policy.sample_rows:
        rng = np.random.default_rng(policy.seed)
        take = np.sort(rng.choice(rows, size=policy.sample_rows, replace=False))
        frame = frame.iloc[take]
    columns: list[ColumnScan] = []
    text_bytes = 0
    header_findings = 0
    for column in frame.columns:
        display, n_header = _mask_name(str(column), entities, all_variants)
        header_findings += n_header
        series = frame[column]
        non_null = int(series.notna().sum())
        scan = ColumnScan(column=str(column), display=display, non_null=non_null)
        columns.append(scan)
        hints = column_hints(str(column)) & set(entities)
        arr = _as_text(series)
        if arr is None or non_null == 0:
            scan.hint_only = sorted(hints)
            continue
        text_bytes += int(arr.nbytes)
        findings = scan_array(
            arr,
            entities=entities,
            hints=hints,
            lowers=column_lowers(str(column)) - hints,
            all_variants=all_variants,
        )
        per_entity, counted = _summarise(
            findings,
            min_confidence=policy.min_confidence,
            allowed=_allowed_for(policy, str(column)),
        )
        scan.per_entity = per_entity
        scan.counted_cells = int(np.unique(findings.row[counted]).size)
        scan.hint_only = sorted(h for h in hints if h not in per_entity)
    return TableScan(
        name=name,
        rows=rows,
        scanned_rows=len(frame),
        text_bytes=text_bytes,
        columns=columns,
        header_findings=header_findings,
    )


def scan_lines(
    lines: list[str], *, policy: PiiPolicy, all_variants: list
) -> dict[str, dict[str, Any]]:
    """Scan lines of text (an artifact, feature names); counted findings per entity, masked."""
    if not lines:
        return {}
    findings = scan_array(
        pa.array(lines, pa.string()), entities=tuple(policy.entities), all_variants=all_variants
    )
    per_entity, _ = _summarise(findings, min_confidence=policy.min_confidence, allowed={})
    return {e: d for e, d in per_entity.items() if d["cells"]}


def read_artifact_lines(path: str) -> list[str]:
    """Read an artifact as lines of text, inline base64 images removed.

    Raises:
        GateInputError: If the file does not exist or cannot be read.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(x for x in p.rglob("*") if x.is_file())
    elif p.is_file():
        files = [p]
    else:
        raise GateInputError(
            f"artifact {path} to scan does not exist; pass the path of a report or verdict file"
        )
    lines: list[str] = []
    for f in files:
        try:
            data = f.read_bytes()[:_MAX_ARTIFACT_BYTES]
        except OSError as exc:
            raise GateInputError(f"cannot read artifact {f}: {exc.strerror or exc}") from None
        text = _DATA_URI.sub(" ", data.decode("utf-8", errors="replace"))
        # HTML tags and JSON punctuation become separators, so "<td>a@b.com</td>" reads cleanly.
        text = re.sub(r"<[^>]{0,200}>", " ", text).replace("\\n", "\n")
        lines.extend(text.splitlines())
    return lines


# --------------------------------------------------------------------------------------------
# Checks


def _status(ok: bool, severity: str) -> Status:
    if ok:
        return Status.PASSED
    return Status.FAILED if severity == "block" else Status.WARNED


def _entity_text(per_entity: dict[str, dict[str, Any]], *, allowed: bool = False) -> str:
    parts = []
    for entity, d in sorted(per_entity.items(), key=lambda kv: -kv[1]["cells"]):
        if d["allowed"] != allowed or not d["cells"]:
            continue
        parts.append(f"{entity} {d['cells']} (e.g. {', '.join(d['examples'][:2])})")
    return "; ".join(parts)


def _table_checks(scan: TableScan, policy: PiiPolicy) -> list[CheckResult]:
    checks: list[CheckResult] = []
    flagged = [c for c in scan.columns if c.counted_cells]
    for col in flagged:
        ok = col.counted_cells <= policy.max_findings
        share = col.counted_cells / max(col.non_null, 1)
        checks.append(
            CheckResult(
                name=f"{scan.name}: column {col.display}",
                value=col.counted_cells,
                threshold=policy.max_findings,
                operator="<=",
                status=_status(ok, policy.severity),
                severity=policy.severity,
                rationale=policy.rationale,
                message=(
                    f"column '{col.display}' of the {scan.name}: {col.counted_cells} of "
                    f"{col.non_null} non-null cells ({share:.2%}) hold personal data: "
                    f"{_entity_text(col.per_entity)}"
                ),
                details={"share": share},
            )
        )
    if not flagged:
        checks.append(
            CheckResult(
                name=f"{scan.name}: no personal data",
                value=0,
                threshold=policy.max_findings,
                operator="<=",
                status=Status.PASSED,
                severity=policy.severity,
                rationale=policy.rationale,
                message=(
                    f"no counted finding in {len(scan.columns)} columns of the {scan.name} "
                    f"({scan.scanned_rows} of {scan.rows} rows scanned)"
                ),
            )
        )
    if scan.header_findings:
        checks.append(
            CheckResult(
                name=f"{scan.name}: column names",
                value=scan.header_findings,
                threshold=0,
                operator="<=",
                status=_status(False, policy.severity),
                severity=policy.severity,
                message=f"{scan.header_findings} column name(s) of the {scan.name} hold personal "
                "data (shown masked); rename them",
            )
        )
    return checks


def _lines_check(
    *, name: str, found: dict[str, dict[str, dict[str, Any]]], policy: PiiPolicy, what: str
) -> CheckResult:
    total = sum(d["cells"] for per in found.values() for d in per.values())
    where = ", ".join(f"{src}: {_entity_text(per)}" for src, per in found.items() if per)
    return CheckResult(
        name=name,
        value=total,
        threshold=0,
        operator="<=",
        status=_status(total == 0, policy.artifacts_severity),
        severity=policy.artifacts_severity,
        message=(
            f"{total} line(s) of {what} hold personal data: {where}"
            if total
            else f"no personal data in {what} ({len(found)} scanned)"
        ),
    )


# --------------------------------------------------------------------------------------------
# Report evidence


def _sampling_note(scan: TableScan) -> str:
    if scan.scanned_rows >= scan.rows:
        return "every row scanned"
    # Rule of three: zero hits in n sampled rows bounds the share of affected rows at 3/n (95 %).
    bound = 3.0 / max(scan.scanned_rows, 1)
    return (
        f"random sample of {scan.scanned_rows} rows; a column in which fewer than "
        f"{bound:.2e} of the cells (about {bound * scan.rows:.0f} rows) hold an entity can be "
        "missed (95 % bound)"
    )


def _evidence(
    tables: list[TableScan],
    lines_found: dict[str, dict[str, dict[str, Any]]],
    line_counts: dict[str, int],
    policy: PiiPolicy,
) -> list[dict[str, Any]]:
    finding_rows, allowed_rows, hint_rows, weak_rows = _column_rows(tables)
    finding_rows += _text_rows(lines_found, line_counts)
    cols = ["source", "column", "entity", "cells", "share", "max confidence", "masked examples"]
    out = [
        {
            "title": "Personal data found",
            "note": f"counted: confidence >= {policy.min_confidence:g}, not allowed by policy; "
            "examples are masked",
            "columns": cols,
            "rows": finding_rows,
        }
    ]
    if allowed_rows:
        out.append(
            {
                "title": "Allowed by policy",
                "columns": ["source", "column", "entity", "cells", "share", "why allowed"],
                "rows": allowed_rows,
            }
        )
    allowed_unused = _allowed_unused(tables, policy)
    if allowed_unused:
        out.append(
            {
                "title": "Allow-list entries that matched nothing",
                "note": "kept in the policy but nothing was found there in this run",
                "columns": ["column", "entities", "why allowed"],
                "rows": allowed_unused,
            }
        )
    if hint_rows:
        out.append(
            {
                "title": "Column-name hints",
                "note": "reported, not counted (below min_confidence unless the content confirms)",
                "columns": ["source", "column", "entity", "confidence", "note"],
                "rows": hint_rows,
            }
        )
    if weak_rows:
        out.append(
            {
                "title": "Below the confidence threshold",
                "note": "candidates that validated but whose context lowered the confidence",
                "columns": ["source", "column", "entity", "cells", "max confidence"],
                "rows": weak_rows,
            }
        )
    out.append(
        {
            "title": "What was scanned",
            "columns": ["source", "rows", "rows scanned", "text MB", "sampling"],
            "rows": [
                [t.name, t.rows, t.scanned_rows, round(t.text_bytes / 1e6, 3), _sampling_note(t)]
                for t in tables
            ]
            + [[src, n, n, "", "every line"] for src, n in line_counts.items()],
        }
    )
    return out


def _column_rows(
    tables: list[TableScan],
) -> tuple[list[list[Any]], list[list[Any]], list[list[Any]], list[list[Any]]]:
    """Rows of the scanned columns: counted findings, allowed ones, name hints, weak ones."""
    finding_rows, allowed_rows, hint_rows, weak_rows = [], [], [], []
    for t in tables:
        for c in t.columns:
            for entity, d in c.per_entity.items():
                share = d["cells"] / max(c.non_null, 1)
                row = [
                    t.name,
                    c.display,
                    entity,
                    d["cells"],
                    f"{share:.2%}",
                    round(d["max_confidence"], 2),
                    ", ".join(d["examples"]),
                ]
                if d["cells"] and d["allowed"]:
                    allowed_rows.append([*row[:5], d["rationale"]])
                elif d["cells"]:
                    finding_rows.append(row)
                if d["below_confidence"]:
                    weak_rows.append(
                        [t.name, c.display, entity, d["below_confidence"], d["max_confidence"]]
                    )
            for entity in c.hint_only:
                hint_rows.append(
                    [
                        t.name,
                        c.display,
                        entity,
                        HINT_ONLY_CONFIDENCE,
                        "name suggests it; no cell has the shape of it",
                    ]
                )
    return finding_rows, allowed_rows, hint_rows, weak_rows


def _text_rows(
    lines_found: dict[str, dict[str, dict[str, Any]]], line_counts: dict[str, int]
) -> list[list[Any]]:
    """Finding rows of the text sources (feature names, artifacts), in the same columns."""
    rows = []
    for src, per in lines_found.items():
        for entity, d in per.items():
            rows.append(
                [src, "(text)", entity, d["cells"], f"{d['cells']} of {line_counts.get(src, 0)} "
                 "lines", round(d["max_confidence"], 2), ", ".join(d["examples"])]
            )  # fmt: skip
    return rows


def _allowed_unused(tables: list[TableScan], policy: PiiPolicy) -> list[list[Any]]:
    """Allow-list entries under which no cell of any table was allowed in this run."""
    return [
        [a.column, ", ".join(a.entities) or "all", a.rationale]
        for a in policy.allow
        if not any(
            c.column == a.column and any(d["allowed"] and d["cells"] for d in c.per_entity.values())
            for t in tables
            for c in t.columns
        )
    ]


# --------------------------------------------------------------------------------------------
# Entry point

# The tables a run scans: (name on the report, digest role, the input holding its URI).
_TABLES = (
    ("training data", "train_data", "train_data_uri"),
    ("evaluation data", "data", "data_uri"),
)


def _scan_tables(ctx: GateContext, policy: PiiPolicy, all_variants: list) -> list[TableScan]:
    uris = {attr: str(getattr(ctx.inputs, attr) or "") for _, _, attr in _TABLES}
    if not any(u.strip() for u in uris.values()):
        raise GateInputError(
            "no data to scan: pass the training and/or evaluation data (CSV or Parquet)"
        )
    tables: list[TableScan] = []
    for name, role, attr in _TABLES:
        if not uris[attr].strip():
            continue
        frame = ctx.table(uris[attr], role=role)
        tables.append(scan_frame(frame, name=name, policy=policy, all_variants=all_variants))
        log.info("pii: scanned %s (%d rows)", name, tables[-1].scanned_rows)
    return tables


def _scan_texts(
    ctx: GateContext, policy: PiiPolicy, all_variants: list
) -> tuple[list[CheckResult], dict[str, dict[str, dict[str, Any]]], dict[str, int]]:
    """Scan the model's feature names and the pipeline's artifacts as lines of text."""
    loaded = ctx.model()
    names = [str(n) for n in (loaded.feature_names or [])] if loaded is not None else []
    found: dict[str, dict[str, dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    checks: list[CheckResult] = []
    if policy.scan_model and loaded is not None:
        label = "model feature names"
        found[label] = scan_lines(names, policy=policy, all_variants=all_variants)
        counts[label] = len(names)
        checks.append(
            _lines_check(
                name=label, found={label: found[label]}, policy=policy, what="feature names"
            )
        )
    paths = list(ctx.inputs.artifact_paths)
    if policy.scan_artifacts and paths:
        artifacts = {}
        for path in paths:
            lines = read_artifact_lines(str(path))
            label = f"artifact {Path(path).name}"
            artifacts[label] = scan_lines(lines, policy=policy, all_variants=all_variants)
            counts[label] = len(lines)
        found.update(artifacts)
        checks.append(
            _lines_check(
                name="pipeline artifacts", found=artifacts, policy=policy, what="the artifacts"
            )
        )
    return checks, found, counts


def _metrics(
    tables: list[TableScan], lines_found: dict[str, dict[str, dict[str, Any]]], policy: PiiPolicy
) -> dict[str, float]:
    columns = [c for t in tables for c in t.columns]
    metrics: dict[str, float] = {
        "pii_cells": sum(c.counted_cells for c in columns),
        "pii_columns_flagged": sum(bool(c.counted_cells) for c in columns),
        "pii_allowed_cells": sum(
            d["cells"] for c in columns for d in c.per_entity.values() if d["allowed"]
        ),
        "rows_scanned": sum(t.scanned_rows for t in tables),
        "text_mb_scanned": sum(t.text_bytes for t in tables) / 1e6,
        "pii_artifact_findings": sum(
            d["cells"] for per in lines_found.values() for d in per.values()
        ),
    }
    for entity in policy.entities:
        metrics[f"pii_cells_{entity}"] = sum(
            c.per_entity[entity]["cells"]
            for c in columns
            if entity in c.per_entity and not c.per_entity[entity]["allowed"]
        )
    return metrics


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Scan data, feature names and artifacts for personal data (the registry's entry point).

    No raw value that the scan found is put into the result: examples are masked.

    Args:
        ctx: The run's context: policy section, training and evaluation data, model, artifacts.

    Returns:
        One check per scanned column with findings (and per text source), counts per entity.
    """
    policy: PiiPolicy = ctx.section
    unknown = [r for r in policy.phone_regions if region_code(r) is None]
    if unknown:
        raise GateInputError(
            f"gates.pii.phone_regions has unknown region(s) {unknown}; use ISO 3166 codes "
            "with a telephone numbering plan, such as GB, DE, FR"
        )
    all_variants = variants(tuple(policy.phone_regions))
    tables = _scan_tables(ctx, policy, all_variants)
    checks = [c for t in tables for c in _table_checks(t, policy)]
    text_checks, lines_found, line_counts = _scan_texts(ctx, policy, all_variants)
    metrics = _metrics(tables, lines_found, policy)
    details = {
        "tables": _evidence(tables, lines_found, line_counts, policy),
        "min_confidence": policy.min_confidence,
        "entities": list(policy.entities),
    }
    log.info(
        "pii: %d flagged cells in %d columns, %d artifact findings",
        metrics["pii_cells"],
        metrics["pii_columns_flagged"],
        metrics["pii_artifact_findings"],
    )
    return Evaluation(checks=checks + text_checks, metrics=metrics, details=details)
