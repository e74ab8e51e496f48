"""Detectors: pyarrow regex over whole columns, then vectorised validation of the candidates.

The cells are cut into clauses at ", " and "; " (zero-copy, see :func:`segments`; no match runs
across such a cut) and one union regex drops the clauses without any candidate. For each entity
variant a filter (a literal, then the variant's regex, the numeric family first probed as groups,
see :func:`candidate_masks`) keeps the clauses that hold a candidate; on those
``pc.extract_regex`` takes the first match and the text after it, and is applied again to the
text after it until no clause has a further match; offsets and the context window before each
match are mapped back to the whole cell. The candidates are then checked by the validators of
:mod:`validators` (Luhn, mod 97, numbering plans ...) in one call per variant, and context words
and column names lift or lower their confidence. No Python loop runs over cells; loops run over
variants and over "n-th match in a clause" (a handful of iterations).

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
# another number: "call 020 ...", "VISA 4111 ..." yes, "GB34 NBBH 0216 ..." (an IBAN's groups:
# a four-letter block after a group holding letters and digits) no. A label glued on with a
# period ("Tel.020", "No.4111 ...") counts too; a single letter does not ("v1.2.3.4"). So does
# a short group of 1-3 digits (the last group of an IBAN "... 0130 00 4111 ...", a quantity):
# inner groups of grouped numbers have four digits.
_L_NUM = (
    r"(?:^|[^\w\-/.+\s]|(?:^|[^\w])\s|[a-z_]\s|(?:^|[^A-Za-z0-9])[A-Z]{1,3}\.?\s|[A-Z]{5}\s"
    r"|(?:^\s?|[^\w\s]\s?|[A-Za-z]\s|(?:^|[^\w])\d{1,4}\s)[A-Z]{4}\.?\s"
    r"|(?:^|[^\w])[A-Za-z]{2,5}\.|(?:^|[^\w])\d{1,3}\s)"
)
# After a number: punctuation (". ) ; : ! ? , quotes"), the end, or whitespace, also when
# another digit group follows (an expiry date "12/27", a CVV, a second number): the whitespace
# alone is consumed, so the next search starts at that group. A candidate that ran on into a
# following group and fails validation is retried without its trailing groups (``trim``).
_R_NUM = r"(?:$|[^\w\-/\s]|\s)"
# A phone number may carry an extension ("555-0123 x42", "ext. 7"): part of the right boundary,
# not of the match, so the validators see the number alone.
_R_PHONE = r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?" + _R_NUM
# A trailing whitespace-separated group of digits (and "/ . - ( )", a date: see ``Variant.trim``).
_TRAILING_GROUP = r"\s+[\d()./\-]+$"
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
_DIGITS = "0123456789"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
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
        prefilter: Character classes (sets of ASCII characters) of consecutive characters that
            every match contains, e.g. ``("0123456789", ".", "0123456789")``: a byte-level
            pre-filter used in place of ``literal``.
        needs_context: Only counts with a context word before it or a column-name hint.
        context_near: The context word must directly precede the match ("ssn: 123456789"), not
            just be in the window (a bare 9-digit id after an SSN is not another SSN).
        must: A regex that every clause holding a match the validator accepts also matches (a
            necessary condition of the validator, e.g. an IPv6 address has "::" or six groups):
            clauses without it are dropped before extraction. Findings do not change: a
            dropped clause holds no candidate that could pass validation.
        trim: A regex of a tail that a greedy pattern may take from what follows the entity: a
            candidate that fails validation is checked again without it (four times at most; the
            phone "020 7946 0958" and a number in "020 7946 0958 12", the IPv6 address and a
            colon in "2001:db8::1:").
        probe_pattern: A regex matching a prefix of every match of ``pattern`` (a cheaper
            automaton for the probes, see :func:`_probe`), or None for ``pattern`` itself.
        cut: Candidates → (candidates cut to the entity's exact extent, which of them end at a
            boundary), before validation: an IBAN match that ran on into the next word or number
            ("... 0130 00 EUR") is cut to its country's length, and dropped if the cut falls
            inside a longer token.
        probe: Run the variant's own regex probe before extraction. False where the probe
            keeps almost every clause that reaches it (after the literal or prefilter, or its
            probe group): extraction's first round rejects the clauses without a match at the
            cost of the probe, so the probe would be a second full pass over the same clauses.
            Findings do not change: a candidate mask is only ever a superset filter.
    """

    entity: str
    name: str
    pattern: str
    validate: Callable[[pa.Array], np.ndarray] | None
    confidence: float
    left: str = _L_NUM
    right: str = _R_NUM
    literal: str | None = None
    prefilter: tuple[str, ...] | None = None
    needs_context: bool = False
    context_near: bool = False
    must: str | None = None
    probe: bool = True
    trim: str | None = None
    probe_pattern: str | None = None
    cut: Callable[[pa.Array], tuple[pa.Array, np.ndarray]] | None = None


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
        *_email_variants(),
        *_phone_variants(regions),
        *_id_number_variants(),
        *_network_variants(),
        *_text_variants(),
    ]


def _email_variants() -> list[Variant]:
    return [
        Variant(
            "email",
            "email",
            # The TLD in letters, or internationalised in punycode (``xn--p1ai``, RFC 3492).
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\."
            r"(?:[A-Za-z]{2,24}|[Xx][Nn]--[A-Za-z0-9]{1,59})",
            _email_valid,
            0.95,
            left=r"(?:^|[^\w.%+\-])",
            right=r"(?:$|[^\w\-@])",
            literal="@",
            probe=False,
            probe_pattern=r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+\.",
            # ``_email_valid`` rejects a domain that starts with "-", "." or digits and "x."
            # (image names: logo@2x.png). So some "@" is followed by a letter; or by digits and
            # then "." or a character other than a digit or "x"; or by digits, "x" and more of
            # the label.
            must=r"@(?:[A-Za-z]|\d+(?:[A-WYZa-wyz\-.]|[xX][A-Za-z0-9\-]))",
        ),
    ]


def _phone_variants(regions: tuple[str, ...]) -> list[Variant]:
    """International, national (per ``regions``) and North American phone numbers.

    Separators: space, ``-``, ``.`` and ``/`` (``030/1234567``, ``01.23.45.67.89``); the calling
    code with ``+``, the ``00`` prefix, or, for the configured regions, bare (``49 30 1234567``).
    """
    codes = sorted(
        {str(cc) for cc in (v.region_code(r) for r in regions) if cc is not None and cc != 1},
        key=lambda c: (-len(c), c),
    )
    out = [
        *_prefixed_phone_variants(),
        *_national_phone_variants(regions),
        *_local_phone_variants(),
    ]
    if codes:
        # The calling code of a configured region without "+" or "00" ("49 30 1234567",
        # "44-20-7946-0958"): a space, dash or slash after the code (not a period: "49.34.25.1"
        # is a dotted number), the rest valid in that code's plan.
        out.append(
            Variant(
                "phone",
                "code_bare",
                "(?:" + "|".join(codes) + r")[ \-/](?:\(0\) ?)?\d{1,5}(?:[ \-/]\d{2,10}){1,4}",
                lambda c: v.bare_code_phone_valid(c, codes),
                0.6,
                right=_R_PHONE,
                trim=_TRAILING_GROUP,
            )
        )
    return out


def _prefixed_phone_variants() -> list[Variant]:
    """Numbers with a country prefix: ``+CC``, the ``00`` prefix, North American ``1``."""
    return [
        Variant(
            "phone",
            "international",
            # A parenthesis may close a group inside ("+44 (20) 7123 ..."), not end the match.
            r"\+[1-9](?:[ .\-/]?\(?\d\)?){5,15}[ .\-/]?\d",
            v.international_phone_valid,
            0.85,
            left=r"(?:^|[^\w+])",
            right=_R_PHONE,
            literal="+",
            probe_pattern=r"\+[1-9](?:[ .\-/()]{0,3}\d){6}",
            trim=_TRAILING_GROUP,
        ),
        Variant(
            "phone",
            "idd",
            r"00[1-9]\d{0,2}[ .\-/]\(?\d\)?(?:[ .\-/]?\(?\d\)?){4,14}[ .\-/]?\d",
            v.idd_phone_valid,
            0.8,
            probe_pattern=r"00[1-9]\d{0,2}[ .\-/](?:[ .\-/()]{0,3}\d){6}",
            right=_R_PHONE,
            trim=_TRAILING_GROUP,
        ),
        Variant(
            "phone",
            "nanp",
            # An optional country code 1 written without "+" ("1-415-555-0132", "1 (415) ...").
            r"(?:1[ .\-]?)?(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .\-/])[2-9]\d\d[ .\-]\d{4}",
            v.nanp_phone_valid,
            0.75,
            right=_R_PHONE,
        ),
    ]


def _national_phone_variants(regions: tuple[str, ...]) -> list[Variant]:
    """National numbers with a trunk 0, valid in one of ``regions``, and bare ``00`` forms."""
    return [
        Variant(
            "phone",
            "national",
            (
                # Dots only as two or more separators ("01.23.45.67.89", not "016.95" of an
                # amount).
                # "0 801 23 35 17": the trunk 0 as a group of its own (French non-geographic).
                # A slash once, after the area code ("030/1234567"; "05/04/2023" is a date).
                r"0\d{1,5}(?:[ \-]\d{2,10}){1,4}|0[ .\-][1-9]\d\d(?:[ .\-]\d\d){3}"
                r"|0\d{2,5}/\d{5,10}(?:[ \-]\d{2,10}){0,3}"
                r"|0\d{1,5}(?:\.\d{2,10}){2,4}"
                r"|\(0\d{1,5}\)[ \-/]?\d{2,10}(?:[ .\-]\d{2,10}){0,3}"
            ),
            lambda c: v.national_phone_valid(c, regions),
            0.7,
            right=_R_PHONE,
            trim=_TRAILING_GROUP,
        ),
        Variant(
            "phone",
            "national_bare",
            r"0[1-9]\d{7,11}",
            lambda c: v.national_phone_valid(c, regions),
            0.6,
            right=_R_PHONE,
            # Ten digits after a 0 are a valid French number more often than not: a zero-padded
            # customer or account id would read as a phone. As a whole cell it counts only after
            # a phone word or in a column whose name says phone, as the bare North American form;
            # in running text see "national_in_text".
            needs_context=True,
        ),
        Variant(
            "phone",
            "national_in_text",
            r"0[1-9]\d{8,9}",
            lambda c: v.national_phone_valid(c, regions),
            0.55,
            # Inside running text (something before it in the cell), not a cell of its own:
            # zero-padded ids fill whole cells of id columns. An id word before it ("customer",
            # "account", "ref" ...) lowers it below the threshold.
            left=r"(?:^\s|[^\w\-/.+\s]|[^\w]\s|[a-z_]\s|[A-Za-z]{2,5}\.|[A-Z]{1,5}\s)",
            right=_R_PHONE,
        ),
        Variant(
            "phone",
            "idd_bare",
            r"00[1-9]\d{7,13}",
            v.idd_phone_valid,
            0.6,
            right=_R_PHONE,
            # "0027150952304": the 00 prefix without a separator is an EAN/UPC as often as not.
            needs_context=True,
        ),
    ]


def _local_phone_variants() -> list[Variant]:
    """Local and bare North American forms, which count only near a phone word or column."""
    return [
        # Not right after a parenthesised group: "(128) 541-6144" is a number with an (invalid)
        # area code, not a local number.
        Variant(
            "phone",
            "local",
            r"[2-9]\d\d-\d{4}",
            None,
            0.45,
            left=r"(?:^|[^\w\-/.+\s)]|(?:^|[^\w)])\s|[a-z_]\s|[A-Za-z]{2,5}\.)",
            needs_context=True,
        ),
        Variant(
            "phone",
            "bare",
            r"1?[2-9]\d{9}",
            v.nanp_phone_valid,
            0.45,
            needs_context=True,
            context_near=True,
        ),
    ]


def _id_number_variants() -> list[Variant]:
    """Numbers that identify a person or an account: SSN, payment card, IBAN."""
    return [
        Variant(
            "ssn",
            "ssn",
            r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{3}\.\d{2}\.\d{4}",
            v.ssn_valid,
            0.85,
            probe=False,
            # ``ssn_valid``'s area (not 000, 666 or 9xx), group (not 00) and serial (not 0000)
            # between non-digits: invalid-area numbers and the like go no further.
            must=(
                r"(?:^|\D)(?:00[1-9]|0[1-9]\d|[1-578]\d\d|6[0-57-9]\d|66[0-57-9])[- .]"
                r"(?:0[1-9]|[1-9]\d)[- .](?:000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})(?:$|\D)"
            ),
        ),
        Variant("ssn", "bare", r"\d{9}", v.ssn_valid, 0.5, needs_context=True, context_near=True),
        Variant(
            "credit_card",
            "card",
            # Grouped by fours with one kind of separator (12-19 digits: 4-4-4, 4-4-4-4,
            # 4-4-4-4-3), the Amex/Diners 4-6-5 and 4-6-4, or compact. One separator kind per
            # number: a compact number followed by a digit group ("502074201877 4312") is the
            # number and the group, not one 16-digit candidate.
            r"\d{4}(?: \d{4}){2}(?: \d{1,4}(?: \d{1,3})?)?"
            r"|\d{4}(?:-\d{4}){2}(?:-\d{1,4}(?:-\d{1,3})?)?"
            r"|\d{4} \d{6} \d{4,5}|\d{4}-\d{6}-\d{4,5}|\d{12,19}",
            v.card_valid,
            0.9,
            probe=False,
        ),
        Variant(
            "iban",
            "iban",
            # Up to eight groups of one to four, then cut to the country's length (``cut``).
            r"[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]{1,4}){3,8}",
            v.iban_valid,
            0.95,
            prefilter=(_UPPER, _UPPER, _DIGITS, _DIGITS),
            left=r"(?:^|[^\w])",
            right=r"(?:$|[^\w])",
            probe=False,
            probe_pattern=r"[A-Z]{2}\d{2}[ \-]?[A-Z0-9]",
            cut=v.iban_cut,
        ),
    ]


def _network_variants() -> list[Variant]:
    return [
        Variant(
            "ipv4",
            "ipv4",
            r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
            v.ipv4_valid,
            0.8,
            left=r"(?:^|[^\w.\-])",
            # A period after the address ends it when a non-word character or the end follows
            # ("from 81.2.69.160.", "(81.2.69.160.)"); "1.2.3.4.5" (an OID) is no address.
            right=r"(?:$|[^\w.\-]|\.(?:$|[^\w.]))",
            literal=".",
            prefilter=(_DIGITS, ".", _DIGITS),
            # Four octets of 0-255 without leading zeros, between non-digits (both boundaries
            # exclude digits): "host 300.1.2.3" and most out-of-range decoys go no further.
            must=r"(?:^|\D)" + _OCTET + r"(?:\." + _OCTET + r"){3}(?:$|\D)",
        ),
        Variant(
            "ipv6",
            "ipv6",
            # Hex groups, an embedded dotted quad (``::ffff:81.2.69.160``), and a zone id
            # (``fe80::1ff:fe23:4567:890a%eth0``, RFC 4007) that is part of the finding.
            r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})"
            r"(?:%[0-9A-Za-z](?:[0-9A-Za-z_.\-]{0,14}[0-9A-Za-z])?)?",
            v.ipv6_valid,
            0.85,
            # Also after a label glued on with a colon ("IPv6:2001:db8::1", "host:fe80::..."):
            # a word ending in a letter that is no hex digit, perhaps and a digit.
            left=r"(?:^|[^\w:.]|[G-Zg-z]\d?:)",
            # A colon or period after it ends it when no address character follows ("from
            # 2001:db8::1: ok", "... ::1."); a candidate that took the colon is retried without.
            right=r"(?:$|[^\w:.%]|[.:](?:$|[^\w.:]))",
            literal=":",
            # ``ipv6_valid`` wants "::", seven colons, or six and a dotted quad: clock times
            # (12:30:45) and MAC addresses (five colons) go no further.
            must=r"::|(?:[0-9A-Fa-f]{0,4}:){6}",
            trim=r":$",
            probe_pattern=r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:",
        ),
    ]


def _text_variants() -> list[Variant]:
    """Entities written in words: dates of birth, names with an honorific, street addresses."""
    return [
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
    words do not care about. A match nearer than ``WINDOW`` bytes to its cell's start gets NUL
    bytes in place of the text before the cell.
    """
    n = len(cells)
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int32)[cells.offset : cells.offset + n + 1]
    data_buf = cells.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    if data.size >= 4 * WINDOW and rows.size:
        # One fixed-width row of WINDOW bytes per match (a strided gather); the bytes before the
        # cell's start are zeroed: a NUL is a non-word character, so the context patterns (word
        # boundaries, \W, anchored at the end) read it as they read the start of the text.
        end = offsets[rows].astype(np.int64) + starts
        from_ = end - WINDOW
        clipped = from_ < 0
        mat = np.lib.stride_tricks.sliding_window_view(data, WINDOW)[np.maximum(from_, 0)]
        for i in np.flatnonzero(clipped):  # at most WINDOW matches at the very start of the data
            mat[i] = np.concatenate([np.zeros(WINDOW - end[i], np.uint8), data[: end[i]]])
        before = WINDOW - np.minimum(starts, WINDOW)
        mat[np.arange(WINDOW)[None, :] < before[:, None]] = 0
        out_offsets = np.arange(0, WINDOW * (rows.size + 1), WINDOW, dtype=np.int32)
        return pa.Array.from_buffers(
            pa.binary(), rows.size, [None, pa.py_buffer(out_offsets), pa.py_buffer(mat.tobytes())]
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


@dataclass(frozen=True)
class Segments:
    """Clauses of cells: ``values[i]`` is the text of ``cells[row[i]]`` from byte ``base[i]``."""

    values: pa.StringArray
    row: np.ndarray
    base: np.ndarray
    cells: pa.StringArray


def segments(cells: pa.StringArray) -> Segments:
    """Cut every cell before the space of ", " and "; " that is not followed by a digit.

    No match of any variant runs across such a cut, and the scan finds the same matches in the
    clauses as in the whole cell: no pattern holds ", " or "; " before a non-digit (a date's
    "May 5, 1990" has a digit after it); a match ending before the comma takes the comma (one
    character) as its right boundary, so the next search starts at the cut in both cases; a match
    just after the cut sees ", " (whole cell) or the start of the clause and a space (clause) on
    its left, and every left boundary accepts both. The clauses share the cells' data buffer (no
    copy); context windows are still taken from the whole cells.
    """
    n = len(cells)
    if cells.null_count:
        cells = pc.fill_null(cells, "")
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int32)[cells.offset : cells.offset + n + 1]
    data_buf = cells.buffers()[2]
    lo, hi = (int(offsets[0]), int(offsets[-1])) if n else (0, 0)
    if data_buf is None or hi == lo:
        return Segments(cells, np.arange(n, dtype=np.int64), np.zeros(n, np.int64), cells)
    d = np.frombuffer(data_buf, dtype=np.uint8)[lo:hi]
    # Position of each comma or semicolon followed by a space and a non-digit.
    sep = np.concatenate([np.flatnonzero(d[:-2] == ord(",")), np.flatnonzero(d[:-2] == ord(";"))])
    sep = sep[d[sep + 1] == ord(" ")]
    nxt = d[sep + 2]
    cut = sep[(nxt < ord("0")) | (nxt > ord("9"))] + 1
    seg_off = np.concatenate([offsets.astype(np.int64) - lo, cut])
    seg_off.sort()
    seg_off = seg_off[np.concatenate([[True], seg_off[1:] != seg_off[:-1]])] + lo
    row = np.searchsorted(offsets, seg_off[:-1], side="right") - 1
    base = seg_off[:-1] - offsets[row]
    values = pa.Array.from_buffers(
        pa.string(), seg_off.size - 1, [None, pa.py_buffer(seg_off.astype(np.int32)), data_buf]
    )
    return Segments(values, row.astype(np.int64), base.astype(np.int64), cells)


# The probes only filter (a superset of the clauses with a match is fine): the left boundary
# ``_L_NUM`` is probed as its last character, and a variant's ``probe_pattern`` stands for its
# pattern. RE2's automaton for a union of the exact boundaries and repetitions outgrows its cache.
_L_NUM_PROBE = r"(?:^|[^\w\-/+])"


def _probe(variant: Variant) -> str:
    left = _L_NUM_PROBE if variant.left == _L_NUM else variant.left
    if variant.probe_pattern is not None:  # a prefix of every match: no right boundary
        return f"{left}(?:{variant.probe_pattern})"
    return f"{left}(?:{variant.pattern}){variant.right}"


def _run_mask(cells: pa.StringArray, classes: tuple[str, ...]) -> np.ndarray:
    """Whether each cell holds consecutive characters from ``classes[0]``, ``classes[1]``, ...

    Each class is a set of ASCII characters (an ASCII byte is never part of a multi-byte
    character, so the search runs on the bytes): one comparison per class over the data finds
    the runs and a binary search their cells (the whole run inside one cell).
    """
    n = len(cells)
    data_buf = cells.buffers()[2] if n else None
    k = len(classes)
    if data_buf is None or not all(c.isascii() for c in classes):
        body = "".join("[" + "".join(re.escape(ch) for ch in c) + "]" for c in classes)
        return _mask(_filled(pc.match_substring_regex(cells, body)))
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int32)[cells.offset : cells.offset + n + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    out = np.zeros(n, dtype=bool)
    data = np.frombuffer(data_buf, dtype=np.uint8)[lo:hi]
    if data.size < k:
        return out
    m = None
    for j, chars in enumerate(classes):
        seg = data[j : data.size - k + 1 + j]
        hit = np.zeros(seg.size, dtype=bool)
        codes = sorted({ord(ch) for ch in chars})
        # Contiguous code ranges as one unsigned comparison each.
        i = 0
        while i < len(codes):
            e = i
            while e + 1 < len(codes) and codes[e + 1] == codes[e] + 1:
                e += 1
            if e == i:
                hit |= seg == codes[i]
            else:
                hit |= (seg - np.uint8(codes[i])) <= codes[e] - codes[i]
            i = e + 1
        m = hit if m is None else m & hit
    pos = np.flatnonzero(m)
    ends = offsets[1:].astype(np.int64) - lo
    cell = np.searchsorted(ends, pos, side="right")
    cell = cell[pos + k <= ends[cell]]
    out[cell] = True
    if cells.null_count:
        out &= _mask(cells.is_valid())
    return out


def _prefilter_mask(cells: pa.StringArray, variant: Variant) -> np.ndarray:
    """Cells that may hold a match: those with the variant's prefilter run, or its literal."""
    if variant.prefilter is not None:
        return _run_mask(cells, variant.prefilter)
    assert variant.literal is not None
    if len(variant.literal) == 1:
        return _run_mask(cells, (variant.literal,))
    return _mask(_filled(pc.match_substring_regex(cells, re.escape(variant.literal))))


def _has_match(cells: pa.Array, variant: Variant) -> np.ndarray:
    """Whether each cell may hold a match of ``variant``.

    Its literal or byte pre-filter first, then its regex probe (with ``probe=False`` the cells
    that reach it, a superset), then its ``must``.
    """
    keep = np.ones(len(cells), dtype=bool)
    cur = cells
    if len(cells) == 0:
        return keep
    if variant.literal is not None or variant.prefilter is not None:
        # A scan of the bytes (see :func:`_run_mask`); filtering only pays when it drops a good
        # share of the cells.
        lit = _prefilter_mask(cur, variant)
        if lit.mean() < 0.8:
            keep, cur = lit, cur.filter(pa.array(lit))
    if variant.probe:
        hit = _mask(_filled(pc.match_substring_regex(cur, _probe(variant))))
    else:
        hit = _mask(_filled(cur.is_valid()))
    if variant.must is not None and hit.any():
        idx = np.flatnonzero(hit)
        sub = cur.filter(pa.array(hit))
        hit[idx] = _mask(_filled(pc.match_substring_regex(sub, variant.must)))
    if cur is cells:
        return hit
    keep[np.flatnonzero(keep)] = hit
    return keep


# Variants probed together first; each variant's own probe then only runs on the cells its group
# matched. A regex pass costs about the same per byte whatever the pattern (RE2's DFA), so one
# union pass that drops most of the text is cheaper than several full passes. The numeric family
# shares most of its candidates; the phone formats with separators are rarer than bare numbers.
PROBE_GROUPS: tuple[tuple[str, ...], ...] = (
    (
        "phone/international",
        "phone/idd",
        "phone/nanp",
        "phone/national",
        "phone/local",
        "phone/code_bare",
    ),
    # The bare 9-11 digit runs apart from the SSN and card shapes: on decoy-dense text the
    # former are few (two of them count only with context), the latter many, and a union pass
    # per set spares every member's pass over the other set's clauses.
    ("phone/bare", "phone/national_bare", "phone/national_in_text", "phone/idd_bare", "ssn/bare"),
    ("ssn/ssn", "credit_card/card"),
)


def _grouped(chosen: list[Variant]) -> list[list[Variant]]:
    key = {id(x): f"{x.entity}/{x.name}" for x in chosen}
    return [[x for x in chosen if key[id(x)] in g] for g in PROBE_GROUPS]


def candidate_masks(cells: pa.Array, chosen: list[Variant]) -> list[np.ndarray]:
    """Per variant, which cells may hold a match of it (regex probes, computed hierarchically).

    The cells whose probe ``left(pattern)right`` matches (and its ``must``), or a superset of them
    for a variant with ``probe=False``: a group's union regex matches a cell whenever one of its
    members does, so filtering by the group first changes nothing, and extraction finds nothing
    in the extra cells of a superset.
    """
    out: dict[int, np.ndarray] = {}

    def run(members: list[Variant], rows: np.ndarray, sub: pa.Array) -> None:
        for x in members:
            m = np.zeros(len(cells), dtype=bool)
            m[rows[_has_match(sub, x)]] = True
            out[id(x)] = m

    grouped = _grouped(chosen)
    all_rows = np.arange(len(cells), dtype=np.int64)
    if grouped and len(cells):
        outer = [x for g in grouped for x in g]
        hit = None
        if outer:
            union = "|".join(f"(?:{_probe(x)})" for x in outer)
            hit = _mask(_filled(pc.match_substring_regex(cells, union)))
        fam_rows = all_rows[hit] if hit is not None else all_rows
        fam = cells.filter(pa.array(hit)) if hit is not None else cells
        for g in grouped:
            if len(g) < 2:
                run(g, fam_rows, fam)
                continue
            gh = _mask(_filled(pc.match_substring_regex(fam, "|".join(_probe(x) for x in g))))
            run(g, fam_rows[gh], fam.filter(pa.array(gh)))
    run([x for x in chosen if id(x) not in out], all_rows, cells)
    return [out[id(x)] for x in chosen]


def extract_all(
    values: pa.StringArray,
    variant: Variant,
    candidates: np.ndarray | None = None,
    origin: Segments | None = None,
    *,
    windows: bool = True,
) -> tuple[np.ndarray, np.ndarray, pa.Array, pa.Array | None]:
    """Every non-overlapping match of a variant in every cell.

    Args:
        values: The cells (nulls allowed).
        variant: The variant.
        candidates: Which cells may hold a match (a superset is fine; see
            :func:`candidate_masks`); computed if None.
        origin: When ``values`` are segments of cells (see :func:`segments`): the cells they
            come from; rows, offsets and context windows then refer to those cells.
        windows: Gather the context windows; if False the fourth item is None (see
            :func:`_windows` to gather them later, e.g. for the validated matches only).

    Returns:
        ``(row, start, match, window)``: the cell of each match, its byte offset in the cell,
        the matched text and the context window before it (binary, not lower-cased).
    """
    cells = v.as_string_array(values)
    keep = _has_match(cells, variant) if candidates is None else candidates
    rows = np.flatnonzero(keep).astype(np.int64)
    cur: pa.Array = cells.filter(pa.array(keep))
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
        if ok.all():
            searched = _byte_lengths(cur)
        else:
            sel = pa.array(ok)
            searched = _byte_lengths(cur.filter(sel))
            ex = ex.filter(sel)
            rows, base = rows[ok], base[ok]
        m = pc.struct_field(ex, "m")
        r, rest = pc.struct_field(ex, "r"), pc.struct_field(ex, "rest")
        m_len, r_len = _byte_lengths(m), _byte_lengths(r)
        rest_len = _byte_lengths(rest)
        after = base + searched - rest_len
        start = after - r_len - m_len
        out_rows.append(rows)
        out_start.append(start)
        out_match.append(v.as_string_array(m))
        # Only a non-empty rest can hold another match (a clause mostly ends with its match).
        more = rest_len > 0
        rows, base, cur = rows[more], after[more], rest.filter(pa.array(more))
    if not out_rows:
        empty = pa.array([], pa.string())
        return np.zeros(0, np.int64), np.zeros(0, np.int64), empty, pa.array([], pa.binary())
    all_rows = np.concatenate(out_rows)
    all_start = np.concatenate(out_start)
    if origin is not None:
        all_start = all_start + origin.base[all_rows]
        all_rows = origin.row[all_rows]
        cells = origin.cells
    return (
        all_rows,
        all_start,
        pa.concat_arrays(out_match),
        _windows(cells, all_rows, all_start) if windows else None,
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


def scan_variant(
    values: pa.StringArray,
    variant: Variant,
    *,
    hinted: bool,
    candidates: np.ndarray | None = None,
    origin: Segments | None = None,
    lowered: bool = False,
) -> Findings:
    """Find, validate and score one variant over an array of cells.

    Args:
        values: The cells.
        variant: The variant.
        hinted: Whether the column name suggests this entity (lifts confidence, and satisfies
            ``needs_context``).
        candidates: Which cells may hold a match (a superset is fine; see
            :func:`candidate_masks`); computed if None.
        origin: The cells ``values`` are segments of (see :func:`segments`), if they are.
        lowered: Whether the column name argues against this entity (lowers confidence).

    Returns:
        The validated findings (confidence already adjusted; not yet thresholded).
    """
    rows, start, match, _ = extract_all(values, variant, candidates, origin, windows=False)
    if rows.size == 0:
        return Findings()
    fits = None
    if variant.cut is not None:
        match, fits = variant.cut(match)
    ok = variant.validate(match) if variant.validate is not None else np.ones(rows.size, bool)
    if fits is not None:
        ok &= fits
    if variant.trim is not None and variant.validate is not None and not ok.all():
        match, ok = _trim_retry(match, ok, variant.validate, variant.trim)
    # Context only matters for the validated matches: their windows alone are gathered.
    idx = np.flatnonzero(ok)
    cells = origin.cells if origin is not None else v.as_string_array(values)
    window = _windows(cells, rows[idx], start[idx])
    lift, lower = _context_adjust(variant.entity, window, near=variant.context_near)
    # A word right before the number that argues against it ("EAN 4547...") outweighs a word
    # further back in the window that argues for it (another entity's "AMEX").
    lift &= ~lower
    conf = np.full(idx.size, variant.confidence)
    conf = conf + LIFT_BY * lift - LOWER_BY * (lower | lowered) + (HINT_BOOST if hinted else 0.0)
    conf = np.clip(conf, 0.0, 1.0)
    if variant.needs_context:
        keep = lift | hinted
        idx, conf = idx[keep], conf[keep]
    kept = match.take(pa.array(idx, pa.int64()))
    return Findings(
        np.full(idx.size, _CODE[variant.entity], np.int8),
        rows[idx],
        start[idx],
        start[idx] + _byte_lengths(kept),
        conf,
        kept,
    )


def _trim_retry(
    match: pa.Array, ok: np.ndarray, validate: Callable[[pa.Array], np.ndarray], tail: str
) -> tuple[pa.Array, np.ndarray]:
    """Retry the rejected candidates without their ``tail`` (a regex ending in ``$``).

    Vectorised over the rejected candidates: each round cuts the tail off those that still fail
    and have one, and validates the cut forms; a candidate's end offset follows from its
    (shorter) text.
    """
    match = v.as_string_array(match)
    ok = ok.copy()
    for _ in range(4):
        bad = np.flatnonzero(~ok)
        if bad.size == 0:
            break
        sub = match.take(pa.array(bad, pa.int64()))
        has = _mask(_filled(pc.match_substring_regex(sub, tail)))
        if not has.any():
            break
        bad, sub = bad[has], sub.filter(pa.array(has))
        cut = v.as_string_array(pc.replace_substring_regex(sub, pattern=tail, replacement=""))
        take = np.arange(len(match), dtype=np.int64)
        take[bad] = len(match) + np.arange(bad.size)
        match = v.as_string_array(pa.concat_arrays([match, cut]).take(pa.array(take)))
        ok[bad] = validate(cut)
    return match, ok


# Entities that a validator confirms (checksums, numbering plans, address syntax): a reading of
# the same text as a date of birth, a name or an address (context or column-name shapes) never
# hides one of them.
_VALIDATED = np.array(
    [e in ("email", "phone", "ssn", "credit_card", "iban", "ipv4", "ipv6") for e in ENTITIES]
)


def resolve_overlaps(f: Findings) -> Findings:
    """Keep one finding per overlap among the validated readings, and among the others.

    Validated entities (card, SSN, IBAN, phone, IP, e-mail) and the context-only ones (date of
    birth, person name, address) are resolved apart: an address-shaped cell in an address
    column keeps the card number inside it as its own finding.
    """
    if len(f) < 2:
        return f.take(np.arange(len(f)))
    strong = _VALIDATED[f.entity.astype(np.int64)]
    if strong.all() or not strong.any():
        return _resolve(f)
    a = _resolve(f.take(np.flatnonzero(strong)))
    b = _resolve(f.take(np.flatnonzero(~strong)))
    return Findings.concat([a, b])


def _resolve(f: Findings) -> Findings:
    """Keep one finding where matches of several variants overlap in a cell (higher confidence).

    A card number inside an IBAN, a national phone format inside an international one: the
    more confident reading wins. Vectorised: adjacent overlapping pairs (sorted by
    cell and offset) drop their weaker member until none overlap.
    """
    # On the numpy columns through an index; the values are taken once at the end. One sort:
    # dropping members of a sorted sequence leaves it sorted.
    row, start, end, conf = f.row, f.start, f.end, f.confidence
    if len(f) < 2:
        return f.take(np.arange(len(f)))
    span = int(start.max()) + 1
    if int(row.max()) < (1 << 62) // span:
        idx = np.lexsort((-conf, row * span + start))
    else:
        idx = np.lexsort((-conf, start, row))
    for _ in range(8):
        if idx.size < 2:
            break
        r, s, e, c = row[idx], start[idx], end[idx], conf[idx]
        overlap = (r[1:] == r[:-1]) & (s[1:] < e[:-1])
        if not overlap.any():
            break
        drop = np.zeros(idx.size, dtype=bool)
        weaker_second = c[1:] <= c[:-1]
        drop[1:] |= overlap & weaker_second
        drop[:-1] |= overlap & ~weaker_second
        idx = idx[~drop]
    return f.take(idx)


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


def _may_lift(seg: Segments, entity: str, mask: np.ndarray) -> np.ndarray:
    r"""Drop the candidate clauses whose cell holds none of ``entity``'s context words.

    A variant that needs context and has no column hint only counts where a context word lies
    in the window before the match, and the window's text is part of the cell: a cell without
    the word anywhere (the pattern without its ``\b``, which only loosens it) cannot lift.
    """
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return mask
    cells, inverse = np.unique(seg.row[idx], return_inverse=True)
    words = LIFT[entity].replace(r"\b", "")
    text = seg.cells.take(pa.array(cells, pa.int64()))
    has = _mask(_filled(pc.match_substring_regex(text, words, ignore_case=True)))
    out = np.zeros(mask.size, dtype=bool)
    out[idx[has[inverse]]] = True
    return out


def scan_array(
    values: pa.Array,
    *,
    entities: tuple[str, ...] = ENTITIES,
    hints: set[str] | frozenset[str] = frozenset(),
    regions: tuple[str, ...] = ("US", "GB", "DE", "FR"),
    all_variants: list[Variant] | None = None,
    lowers: set[str] | frozenset[str] = frozenset(),
) -> Findings:
    """Scan an array of text cells for every enabled entity type.

    Args:
        values: Text (or integer, cast to text) cells; nulls are skipped.
        entities: Entity types to look for.
        hints: Entity types the column name suggests.
        lowers: Entity types the column name argues against (see
            :func:`~context.column_lowers`).
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
    # The cells are cut into clauses (see :func:`segments`) and one pass of one automaton over
    # every clause drops those without any candidate (most of real text, and the boilerplate
    # clauses of dense text) before any per-variant work.
    seg = segments(arr)
    segs = seg.values
    if chosen and len(segs):
        union = "|".join(f"(?:{_probe(x)})" for x in chosen)
        keep = _mask(_filled(pc.match_substring_regex(segs, union)))
        if not keep.all():
            seg = Segments(segs.filter(pa.array(keep)), seg.row[keep], seg.base[keep], seg.cells)
            segs = seg.values
    masks = candidate_masks(segs, chosen)
    parts = []
    for variant, mask in zip(chosen, masks, strict=True):
        hinted = variant.entity in hints
        if variant.needs_context and not hinted and variant.entity in LIFT:
            mask = _may_lift(seg, variant.entity, mask)
        parts.append(
            scan_variant(
                segs,
                variant,
                hinted=hinted,
                candidates=mask,
                origin=seg,
                lowered=variant.entity in lowers,
            )
        )
    found = Findings.concat(parts)
    cells = v.as_string_array(values)
    shapes = [
        cell_shape_findings(cells, e) for e in sorted(hints & set(CELL_CONFIDENCE)) if e in entities
    ]
    return resolve_overlaps(Findings.concat([found, *shapes]))


def entity_name(code: int) -> str:
    """Entity type of a finding's code."""
    return ENTITIES[int(code)]
