"""Detectors: pyarrow regex over whole columns, then vectorised validation of the candidates.

For each entity variant a cheap filter (a literal with ``pc.match_substring``, then the variant's
regex with ``pc.match_substring_regex``) keeps the cells that hold a candidate; on those cells
``pc.extract_regex`` takes the first match with the text before it (its context window) and the
text after it, and is applied again to the text after it until no cell has a further match. The
candidates are then checked by the validators of :mod:`validators` (Luhn, mod 97, numbering
plans ...) in one call per variant, and context words and column names lift or lower their
confidence. No Python loop runs over cells; loops run over variants and over "n-th match in a
cell" (a handful of iterations).

Raw matched values stay in memory (in :class:`Findings`) and leave this module only through
:mod:`masking`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quality_gates.components.pii_scan_gate import validators as v
from quality_gates.components.pii_scan_gate.context import (
    ENTITIES,
    LIFT,
    LIFT_BY,
    LOWER,
    LOWER_BY,
    WINDOW,
)

_MAX_MATCHES_PER_CELL = 32
_CODE = {e: i for i, e in enumerate(ENTITIES)}

# Boundaries (RE2 has no look-behind): the left one is consumed as the end of the prefix group,
# the right one after the match. "Not a word character and not a joiner" keeps a number that is
# part of a longer token (ORD-123-45-6789, v1.2.3.4, hex digests) from matching.
# A space before a number counts as a boundary only after a word that cannot be a block of
# another number: "call 020 ..." yes, "GB34 NBBH 0216 ..." (an IBAN's groups) no.
_L_NUM = r"(?:^|[^\w\-/.+\s]|(?:^|[^\w])\s|[a-z_]\s|(?:^|[^A-Za-z0-9])[A-Z]{1,3}\.?\s|[A-Z]{5}\s)"
_R_NUM = r"(?:$|[^\w\-/\s]|\s+(?:$|[^\d\s])|[.,](?:\s|$))"
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
DATE = (
    r"(?:(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|1[0-2])[./-](?:19|20)\d\d"
    r"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:19|20)\d\d"
    r"|(?:0?[1-9]|[12]\d|3[01]) " + _MONTHS + r",? (?:19|20)\d\d"
    r"|" + _MONTHS + r" (?:0?[1-9]|[12]\d|3[01]),? (?:19|20)\d\d)"
)
_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl"
    r"|Terrace|Square|Sq|Parkway|Pkwy|Highway|Hwy|Close|Crescent)"
)
_FILE_TLDS = (
    "png|jpe?g|gif|svg|webp|bmp|ico|tiff?|pdf|txt|csv|json|ya?ml|xml|html?|css|js|ts|py|"
    "md|zip|gz|tar|exe|dll|so|log|ini|cfg|lock|bin"
)


@dataclass(frozen=True)
class Variant:
    """One way an entity is written, with the validator that confirms a candidate.

    Attributes:
        entity: Entity type (see :data:`~context.ENTITIES`).
        name: Variant name, for reports and the bench.
        pattern: RE2 pattern of the match itself (no capturing groups).
        validate: Candidates (pyarrow strings) → numpy bool; None accepts every candidate.
        confidence: Confidence of a validated candidate without context.
        left: Boundary before the match.
        right: Boundary after the match.
        literal: A substring every match contains (a fast pre-filter), or None.
        needs_context: Only counts with a context word before it or a column-name hint.
        context_near: The context word must directly precede the match ("ssn: 123456789"), not
            just be in the window (a bare 9-digit id after an SSN is not another SSN).
    """

    entity: str
    name: str
    pattern: str
    validate: Callable[[pa.Array], np.ndarray] | None
    confidence: float
    left: str = _L_NUM
    right: str = _R_NUM
    literal: str | None = None
    needs_context: bool = False
    context_near: bool = False


def _email_valid(c: pa.Array) -> np.ndarray:
    bad = pc.match_substring_regex(
        c, r"(?:^\.|\.\.|\.@|@[-.]|-\.|\.(?:" + _FILE_TLDS + r")$|@\d+x\.)", ignore_case=True
    )
    return ~np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)


def _dob_valid(c: pa.Array) -> np.ndarray:
    return np.ones(len(c), dtype=bool)


def variants(regions: tuple[str, ...] = ("US", "GB", "DE", "FR")) -> list[Variant]:
    """Every detector variant.

    Args:
        regions: Regions whose national formats (trunk prefix 0) are recognised for phones.

    Returns:
        The variants, in no particular order.
    """
    return [
        Variant(
            "email",
            "email",
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}",
            _email_valid,
            0.95,
            left=r"(?:^|[^\w.%+\-])",
            right=r"(?:$|[^\w\-@])",
            literal="@",
        ),
        Variant(
            "phone",
            "international",
            r"\+[1-9](?:[ .\-]?\(?\d\)?){6,14}",
            v.international_phone_valid,
            0.85,
            left=r"(?:^|[^\w+])",
            literal="+",
        ),
        Variant(
            "phone",
            "nanp",
            r"(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .\-])[2-9]\d\d[ .\-]\d{4}",
            v.nanp_phone_valid,
            0.75,
        ),
        Variant(
            "phone",
            "national",
            r"0\d{1,5}(?:[ \-]\d{2,8}){1,4}",
            lambda c: v.national_phone_valid(c, regions),
            0.7,
        ),
        Variant("phone", "local", r"[2-9]\d\d-\d{4}", None, 0.45, needs_context=True),
        Variant(
            "phone",
            "bare",
            r"1?[2-9]\d{9}",
            v.nanp_phone_valid,
            0.45,
            needs_context=True,
            context_near=True,
        ),
        Variant("ssn", "ssn", r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}", v.ssn_valid, 0.85),
        Variant("ssn", "bare", r"\d{9}", v.ssn_valid, 0.5, needs_context=True, context_near=True),
        Variant(
            "credit_card",
            "card",
            r"\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7}|\d{4}[ \-]?\d{6}[ \-]?\d{4,5}|\d{13,19}",
            v.card_valid,
            0.9,
        ),
        Variant(
            "iban",
            "iban",
            r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}",
            v.iban_valid,
            0.95,
            left=r"(?:^|[^\w])",
            right=r"(?:$|[^\w])",
        ),
        Variant(
            "ipv4",
            "ipv4",
            r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
            v.ipv4_valid,
            0.8,
            left=r"(?:^|[^\w.\-])",
            right=r"(?:$|[^\w.\-]|\.(?:\s|$))",
            literal=".",
        ),
        Variant(
            "ipv6",
            "ipv6",
            r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})",
            v.ipv6_valid,
            0.85,
            left=r"(?:^|[^\w:.])",
            right=r"(?:$|[^\w:.]|\.(?:\s|$))",
            literal=":",
        ),
        Variant(
            "date_of_birth",
            "date",
            DATE,
            _dob_valid,
            0.45,
            left=r"(?:^|[^\w])",
            right=r"(?:$|[^\w])",
            needs_context=True,
        ),
        Variant(
            "person_name",
            "honorific",
            r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.? [A-Z][a-z]+(?: [A-Z][a-z]+)?",
            None,
            0.7,
            left=r"(?:^|[^\w])",
            right=r"(?:$|[^\w])",
        ),
        Variant(
            "address",
            "street",
            r"\d{1,5}[A-Za-z]? (?:[A-Z][a-z]+ ){1,3}" + _STREET + r"\.?",
            None,
            0.75,
            left=r"(?:^|[^\w])",
            right=r"(?:$|[^\w])",
        ),
    ]


# Whole-cell shapes for columns whose name suggests the entity (no free-text pattern is precise
# enough for names and addresses on their own).
CELL_SHAPES: dict[str, str] = {
    "person_name": r"^\s*[A-Z][A-Za-z'’\-]+(?:,? [A-Z][A-Za-z'’\-]*\.?){0,3}\s*$",
    "address": r"^\s*\d{1,5}[A-Za-z]?,? [A-Za-z].{2,}|^\s*[A-Za-z].*\d.*,",
    "date_of_birth": r"^\s*" + DATE + r"(?:[T ][\d:.]+Z?)?\s*$",
    "email": r"@",
}
CELL_CONFIDENCE = {"person_name": 0.8, "address": 0.8, "date_of_birth": 0.9}
HINT_ONLY_CONFIDENCE = 0.4
HINT_BOOST = 0.1


@dataclass
class Findings:
    """Validated matches of one column (or of the lines of one artifact).

    Attributes:
        entity: Entity code per finding (index into :data:`~context.ENTITIES`).
        row: Row (cell) index of each finding in the scanned array.
        start: Byte offset of the match in its (UTF-8) cell.
        end: Offset just past the match.
        confidence: Confidence in [0, 1] after validation and context.
        values: The raw matched text. Never written anywhere: mask it first.
    """

    entity: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    end: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    values: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))

    def __len__(self) -> int:
        return int(self.row.shape[0])

    def take(self, idx: np.ndarray) -> Findings:
        """Return the findings at positions ``idx``."""
        return Findings(
            self.entity[idx],
            self.row[idx],
            self.start[idx],
            self.end[idx],
            self.confidence[idx],
            self.values.take(pa.array(idx, pa.int64())),
        )

    @staticmethod
    def concat(parts: list[Findings]) -> Findings:
        """Concatenate findings of the same array."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Findings()
        return Findings(
            np.concatenate([p.entity for p in parts]),
            np.concatenate([p.row for p in parts]),
            np.concatenate([p.start for p in parts]),
            np.concatenate([p.end for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            pa.concat_arrays([v.as_string_array(p.values) for p in parts]),
        )


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _filled(mask: pa.Array) -> pa.Array:
    return pc.fill_null(mask, False)


def _lengths(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.utf8_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)


def _byte_lengths(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.binary_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)


def _windows(cells: pa.StringArray, rows: np.ndarray, starts: np.ndarray) -> pa.Array:
    """The ``WINDOW`` bytes before each match, gathered from the cells' buffer in one step.

    A binary array: a window may begin inside a multi-byte character, which the ASCII context
    words do not care about.
    """
    n = len(cells)
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int32)[cells.offset : cells.offset + n + 1]
    data_buf = cells.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    lo = np.maximum(starts - WINDOW, 0)
    lengths = starts - lo
    out_offsets = np.zeros(rows.size + 1, dtype=np.int32)
    np.cumsum(lengths, out=out_offsets[1:])
    # Index of every gathered byte: the window's first byte plus its position in the window.
    first = offsets[rows].astype(np.int64) + lo
    idx = np.repeat(first - out_offsets[:-1], lengths) + np.arange(int(out_offsets[-1]))
    gathered = data[idx] if idx.size else np.zeros(0, np.uint8)
    return pa.Array.from_buffers(
        pa.binary(), rows.size, [None, pa.py_buffer(out_offsets), pa.py_buffer(gathered.tobytes())]
    )


def extract_all(
    values: pa.StringArray, variant: Variant
) -> tuple[np.ndarray, np.ndarray, pa.Array, pa.Array]:
    """Every non-overlapping match of a variant in every cell.

    Args:
        values: The cells (nulls allowed).
        variant: The variant.

    Returns:
        ``(row, start, match, window)``: the cell of each match, its byte offset in the cell,
        the matched text and the context window before it (binary, not lower-cased).
    """
    cells = v.as_string_array(values)
    rows = np.arange(len(cells), dtype=np.int64)
    cur: pa.Array = cells
    if variant.literal is not None:
        # A regex made of a literal runs as a memchr-like scan, several times faster than
        # pc.match_substring; filtering only pays when it drops a good share of the cells.
        keep = _mask(_filled(pc.match_substring_regex(cur, re.escape(variant.literal))))
        if keep.mean() < 0.8:
            rows, cur = rows[keep], cur.filter(pa.array(keep))
    probe = f"{variant.left}(?:{variant.pattern}){variant.right}"
    keep = _mask(_filled(pc.match_substring_regex(cur, probe)))
    rows, cur = rows[keep], cur.filter(pa.array(keep))
    base = np.zeros(len(rows), dtype=np.int64)
    # No capture of the text before the match: a lazy ".*?" prefix group makes RE2 run its slow
    # submatch engine over the whole prefix. The match's offset follows from the byte lengths of
    # the text searched, of the match, its right boundary and the rest after it; the context
    # window is gathered from the buffer by offset.
    full = f"(?P<l>{variant.left})(?P<m>{variant.pattern})(?P<r>{variant.right})(?P<rest>(?s:.*))"
    out_rows, out_start, out_match = [], [], []
    for _ in range(_MAX_MATCHES_PER_CELL):
        if len(cur) == 0:
            break
        ex = pc.extract_regex(cur, full)
        ok = _mask(_filled(ex.is_valid()))
        if not ok.any():
            break
        sel = pa.array(ok)
        searched = _byte_lengths(cur.filter(sel))
        ex = ex.filter(sel)
        rows, base = rows[ok], base[ok]
        m = pc.struct_field(ex, "m")
        r, rest = pc.struct_field(ex, "r"), pc.struct_field(ex, "rest")
        m_len, r_len = _byte_lengths(m), _byte_lengths(r)
        after = base + searched - _byte_lengths(rest)
        start = after - r_len - m_len
        out_rows.append(rows)
        out_start.append(start)
        out_match.append(v.as_string_array(m))
        base = after
        cur = rest
    if not out_rows:
        empty = pa.array([], pa.string())
        return np.zeros(0, np.int64), np.zeros(0, np.int64), empty, pa.array([], pa.binary())
    all_rows = np.concatenate(out_rows)
    all_start = np.concatenate(out_start)
    return (
        all_rows,
        all_start,
        pa.concat_arrays(out_match),
        _windows(cells, all_rows, all_start),
    )


_NEAR = r"[^a-z0-9]{0,4}(?:(?:no|nr|num|number|is|#)\.?[^a-z0-9]{0,3})?$"


def _context_adjust(
    entity: str, window: pa.Array, *, near: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    lift = np.zeros(len(window), dtype=bool)
    lower = np.zeros(len(window), dtype=bool)
    if entity in LIFT and len(window):
        pattern = f"(?:{LIFT[entity]}){_NEAR}" if near else LIFT[entity]
        lift = _mask(_filled(pc.match_substring_regex(window, pattern, ignore_case=True)))
    if entity in LOWER and len(window):
        lower = _mask(_filled(pc.match_substring_regex(window, LOWER[entity], ignore_case=True)))
    return lift, lower


def scan_variant(values: pa.StringArray, variant: Variant, *, hinted: bool) -> Findings:
    """Find, validate and score one variant over an array of cells.

    Args:
        values: The cells.
        variant: The variant.
        hinted: Whether the column name suggests this entity (lifts confidence, and satisfies
            ``needs_context``).

    Returns:
        The validated findings (confidence already adjusted; not yet thresholded).
    """
    rows, start, match, window = extract_all(values, variant)
    if rows.size == 0:
        return Findings()
    ok = variant.validate(match) if variant.validate is not None else np.ones(rows.size, bool)
    lift, lower = _context_adjust(variant.entity, window, near=variant.context_near)
    conf = np.full(rows.size, variant.confidence)
    conf = conf + LIFT_BY * lift - LOWER_BY * lower + (HINT_BOOST if hinted else 0.0)
    if variant.needs_context:
        ok &= lift | hinted
    conf = np.clip(conf, 0.0, 1.0)
    idx = np.flatnonzero(ok)
    return Findings(
        np.full(idx.size, _CODE[variant.entity], np.int8),
        rows[idx],
        start[idx],
        start[idx] + _byte_lengths(match.take(pa.array(idx, pa.int64()))),
        conf[idx],
        match.take(pa.array(idx, pa.int64())),
    )


def resolve_overlaps(f: Findings) -> Findings:
    """Keep one finding where matches of several variants overlap in a cell (higher confidence).

    A card number inside an IBAN, a national phone format inside an international one: the
    validated, more confident reading wins. Vectorised: adjacent overlapping pairs (sorted by
    cell and offset) drop their weaker member until none overlap.
    """
    for _ in range(8):
        if len(f) < 2:
            return f
        order = np.lexsort((-f.confidence, f.start, f.row))
        f = f.take(order)
        same = f.row[1:] == f.row[:-1]
        overlap = same & (f.start[1:] < f.end[:-1])
        if not overlap.any():
            return f
        drop = np.zeros(len(f), dtype=bool)
        weaker_second = f.confidence[1:] <= f.confidence[:-1]
        drop[1:] |= overlap & weaker_second
        drop[:-1] |= overlap & ~weaker_second
        f = f.take(np.flatnonzero(~drop))
    return f


def cell_shape_findings(values: pa.StringArray, entity: str) -> Findings:
    """Whole cells that have the shape of ``entity`` (used when the column name suggests it)."""
    shape = CELL_SHAPES.get(entity)
    if shape is None or entity not in CELL_CONFIDENCE:
        return Findings()
    hit = _mask(_filled(pc.match_substring_regex(values, shape)))
    idx = np.flatnonzero(hit)
    cells = v.as_string_array(values.take(pa.array(idx, pa.int64())))
    return Findings(
        np.full(idx.size, _CODE[entity], np.int8),
        idx.astype(np.int64),
        np.zeros(idx.size, np.int64),
        _lengths(cells),
        np.full(idx.size, CELL_CONFIDENCE[entity] + HINT_BOOST),
        cells,
    )


def scan_array(
    values: pa.Array,
    *,
    entities: tuple[str, ...] = ENTITIES,
    hints: set[str] | frozenset[str] = frozenset(),
    regions: tuple[str, ...] = ("US", "GB", "DE", "FR"),
    all_variants: list[Variant] | None = None,
) -> Findings:
    """Scan an array of text cells for every enabled entity type.

    Args:
        values: Text (or integer, cast to text) cells; nulls are skipped.
        entities: Entity types to look for.
        hints: Entity types the column name suggests.
        regions: Regions of national phone formats.
        all_variants: Pre-built variants (see :func:`variants`), to reuse across columns.

    Returns:
        Findings after overlap resolution (not thresholded by confidence).
    """
    arr = v.as_string_array(values)
    chosen = [
        x
        for x in (all_variants if all_variants is not None else variants(regions))
        if x.entity in entities
    ]
    # One pass of one automaton over every cell: most cells of real tables hold no candidate at
    # all and are dropped before any per-variant work.
    rows = np.arange(len(arr), dtype=np.int64)
    if chosen and len(arr):
        union = "|".join(f"(?:{x.left}(?:{x.pattern}){x.right})" for x in chosen)
        keep = _mask(_filled(pc.match_substring_regex(arr, union)))
        if not keep.all():
            rows = np.flatnonzero(keep)
            arr = arr.filter(pa.array(keep))
    parts = []
    for variant in chosen:
        parts.append(scan_variant(arr, variant, hinted=variant.entity in hints))
    found = Findings.concat(parts)
    found.row = rows[found.row]
    cells = v.as_string_array(values)
    shapes = [
        cell_shape_findings(cells, e) for e in sorted(hints & set(CELL_CONFIDENCE)) if e in entities
    ]
    return resolve_overlaps(Findings.concat([found, *shapes]))


def entity_name(code: int) -> str:
    """Entity type of a finding's code."""
    return ENTITIES[int(code)]
