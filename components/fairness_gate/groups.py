"""Sensitive groups: where the attributes come from, and one integer code per row and grouping.

Sensitive attributes are usually not model inputs. They come from columns of the evaluation data
(listed in ``data.exclude`` so the model never sees them) or from a separate file joined on a key
column. Each grouping (one feature, or an intersection such as ``sex × age_band``) becomes a
vector of group codes, built with ``pandas.factorize`` over whole columns; only combinations that
occur in the data are groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quality_gates.shared.contracts.errors import GateInputError

MISSING_LABEL = "<missing>"
#: Separator of intersection group labels and names.
CROSS = " × "


@dataclass(frozen=True)
class Grouping:
    """The groups of one sensitive feature or intersection.

    Attributes:
        columns: The columns combined (one for a single feature).
        codes: Group code per row, ``0 .. len(labels) - 1``.
        labels: Readable label per group, e.g. ``F`` or ``F × 18-25``.
        counts: Rows per group.
    """

    columns: tuple[str, ...]
    codes: np.ndarray
    labels: list[str]
    counts: np.ndarray

    @property
    def name(self) -> str:
        """``sex`` or ``sex × age_band``."""
        return CROSS.join(self.columns)

    @property
    def slug(self) -> str:
        """A metric-name-safe form of :attr:`name`, e.g. ``sex_x_age_band``."""
        return "_x_".join(self.columns)


def _label(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING_LABEL
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an int column with missing values is read as float
    return str(value)


def factorize_column(
    series: pd.Series, *, column: str, missing: str, source: str
) -> tuple[np.ndarray, list[str]]:
    """Code one sensitive column (string, integer, boolean or categorical).

    Args:
        series: The column.
        column: Its name, for messages.
        missing: ``group`` (missing values are a group of their own) or ``error``.
        source: Where the column comes from, for messages.

    Returns:
        Codes per row and the label of each code (sorted by value, missing last).

    Raises:
        GateInputError: On missing values when ``missing`` is ``error``.
    """
    na = series.isna().to_numpy()
    if na.any() and missing == "error":
        first = int(np.flatnonzero(na)[0])
        raise GateInputError(
            f"sensitive column '{column}' of {source} has {int(na.sum())} missing value(s) "
            f"(first at row {first}, 0-based); fill them, or set gates.fairness.missing: group "
            "to compare them as a group of their own"
        )
    try:
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=False)
    except TypeError:
        # Mixed types (numbers and text in one object column) do not sort: compare as text.
        codes, uniques = pd.factorize(series.astype("string"), sort=True, use_na_sentinel=False)
    labels = [_label(v) for v in uniques]
    shown = _withhold_rare(labels, np.bincount(codes, minlength=len(labels)))
    if len(set(labels)) != len(labels):
        # e.g. 1 and "1" in one object column: the groups would be indistinguishable in reports.
        raise GateInputError(
            f"sensitive column '{column}' of {source} mixes values that print the same "
            f"({', '.join(shown[:6])}); store it with one type"
        )
    return codes.astype(np.int64), shown


# Small-cell suppression: a value held by a handful of rows identifies them (or is a stray cell
# of personal data, an e-mail typed into `sex`); its group is compared but never named.
NAMED_GROUP_MIN_ROWS = 10


def _withhold_rare(labels: list[str], counts: np.ndarray) -> list[str]:
    """Labels with those of groups under :data:`NAMED_GROUP_MIN_ROWS` rows withheld."""
    out, k = [], 0
    for label, n in zip(labels, counts.tolist(), strict=True):
        if n < NAMED_GROUP_MIN_ROWS and label != MISSING_LABEL:
            k += 1
            label = f"<rare group {k}, value withheld>"
        out.append(label)
    return out


def build_grouping(
    frame: pd.DataFrame, columns: tuple[str, ...], *, missing: str, source: str
) -> Grouping:
    """Code the groups of one feature or the observed combinations of several.

    Args:
        frame: Table holding the sensitive columns.
        columns: The columns of the grouping.
        missing: Missing-value policy, see :func:`factorize_column`.
        source: Where the columns come from, for messages.

    Returns:
        The grouping.
    """
    parts = [factorize_column(frame[c], column=c, missing=missing, source=source) for c in columns]
    codes, labels = parts[0]
    for next_codes, next_labels in parts[1:]:
        combined = codes * len(next_labels) + next_codes
        # Only combinations that occur: np.unique keeps them sorted, so groups are ordered by
        # the first column, then the second ...
        present, codes = np.unique(combined, return_inverse=True)
        labels = [
            f"{labels[k // len(next_labels)]}{CROSS}{next_labels[k % len(next_labels)]}"
            for k in present.tolist()
        ]
    codes = codes.astype(np.int64).ravel()
    return Grouping(
        columns=tuple(columns),
        codes=codes,
        labels=labels,
        counts=np.bincount(codes, minlength=len(labels)),
    )


def sensitive_frame(
    data_frame: pd.DataFrame,
    columns: list[str],
    *,
    data_source: str,
    extra: pd.DataFrame | None = None,
    extra_source: str = "",
    join_key: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """Gather the sensitive columns, aligned with the evaluation rows.

    Args:
        data_frame: The evaluation data.
        columns: Sensitive columns needed.
        data_source: Name of the evaluation data, for messages.
        extra: A separate table of sensitive attributes, or None.
        extra_source: Its name, for messages.
        join_key: Column present in both tables that identifies a row.

    Returns:
        A frame with ``columns`` (rows in evaluation order) and a description of where they
        came from. Evaluation rows without a match in ``extra`` get missing values.

    Raises:
        GateInputError: When a column or the key is missing, or the key is not unique in
            ``extra``.
    """
    if extra is None:
        absent = [c for c in columns if c not in data_frame.columns]
        if absent:
            raise GateInputError(
                f"sensitive column(s) {', '.join(repr(c) for c in absent)} not found in "
                f"{data_source} (columns: {', '.join(map(str, list(data_frame.columns)[:12]))}); "
                "add them, pass a separate sensitive-attribute file, or fix "
                "gates.fairness.sensitive_features"
            )
        return data_frame.loc[:, columns].reset_index(drop=True), data_source
    if not join_key:
        raise GateInputError(
            f"a separate sensitive-attribute file ({extra_source}) was given but "
            "gates.fairness.join_key is not set; name the key column shared with the data"
        )
    for frame, src in ((data_frame, data_source), (extra, extra_source)):
        if join_key not in frame.columns:
            raise GateInputError(
                f"join key '{join_key}' is not a column of {src}; fix gates.fairness.join_key "
                "or add the column"
            )
    from_extra = [c for c in columns if c in extra.columns]
    absent = [c for c in columns if c not in extra.columns and c not in data_frame.columns]
    if absent:
        raise GateInputError(
            f"sensitive column(s) {', '.join(repr(c) for c in absent)} are neither in "
            f"{extra_source} nor in {data_source}; fix gates.fairness.sensitive_features"
        )
    left, right = data_frame[join_key], extra[join_key]
    if left.dtype.kind != right.dtype.kind:
        left, right = left.astype("string"), right.astype("string")
    dup = right.duplicated(keep=False).to_numpy()
    if dup.any():
        raise GateInputError(
            f"join key '{join_key}' is not unique in {extra_source} ({int(dup.sum())} rows share "
            f"a key, first at row {int(np.flatnonzero(dup)[0])}, 0-based); keep one row per key"
        )
    pos = pd.Index(right).get_indexer(left)
    out = data_frame.loc[:, [c for c in columns if c not in from_extra]].reset_index(drop=True)
    unmatched = pos < 0
    for c in from_extra:
        values = extra[c].iloc[np.where(unmatched, 0, pos)].reset_index(drop=True)
        out[c] = values.where(~unmatched, other=pd.NA) if unmatched.any() else values
    if unmatched.any():
        out.attrs["unmatched"] = int(unmatched.sum())
    return out.loc[:, columns], f"{extra_source} joined on '{join_key}'"
