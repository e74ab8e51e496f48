"""Precision-oriented validators, vectorised over arrays of candidate matches.

A regex only says "looks like"; these say "is": Luhn and issuer ranges for payment cards, country
length and ISO 7064 mod-97 for IBANs, the SSA rules for US social security numbers, octet ranges
for IPv4, and the ITU numbering plans of ``phonenumbers`` (national number length and pattern per
country calling code) for phone numbers. Every function takes a pyarrow string array of candidates
and returns a numpy boolean array; no function loops over candidates in Python, except IPv6
(``ipaddress`` per candidate: few candidates and about 2 µs each, see ``bench/bench_pii.py``).
"""

from __future__ import annotations

import ipaddress
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# ISO 13616 IBAN lengths per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
IBAN_MAX = 34
# SSNs the SSA voided after they were printed in advertising (e.g. the Woolworth wallet card).
_VOID_SSNS = np.array([78051120, 219099999, 123456789, 111111111, 333333333], dtype=np.int64)
# "Addresses" that are not anyone's: loopback, unspecified, broadcast.
_NOT_PERSONAL_V4_FIRST = (0, 127)


def as_string_array(values: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """Return one contiguous ``pa.string()`` array (chunks combined, large strings cast down)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def char_matrix(
    values: pa.Array, width: int, *, right: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Lay the bytes of each string into a fixed-width ``uint8`` matrix (zero padded).

    Args:
        values: A string array without nulls (ASCII content expected).
        width: Number of columns; longer strings are cut (left-aligned: their tail; right-aligned:
            their head).
        right: Right-align the strings (digit arithmetic from the last digit, e.g. Luhn).

    Returns:
        ``(matrix (n, width), lengths (n,))``.
    """
    arr = as_string_array(values)
    n = len(arr)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data_buf = arr.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(1, np.uint8)
    )
    if data.size == 0:
        data = np.zeros(1, np.uint8)
    lengths = np.diff(offsets)
    # int32 indices into the data padded with ``width`` zero bytes on both sides: no clipping,
    # and half the memory of int64 temporaries (their first touch is most of the cost).
    lo = int(offsets[0])
    data = np.concatenate(
        [np.zeros(width, np.uint8), data[lo : int(offsets[-1])], np.zeros(width, np.uint8)]
    )
    rel = (offsets - lo + width).astype(np.int32)
    cols = np.arange(width, dtype=np.int32)
    if right:
        idx = rel[1:, None] - width + cols
        valid = cols >= width - lengths[:, None]
    else:
        idx = rel[:-1, None] + cols
        valid = cols < lengths[:, None]
    mat = data[idx]
    mat[~valid] = 0
    return mat, lengths


def digits_only(values: pa.Array) -> pa.Array:
    """Remove every character that is not an ASCII digit.

    On the bytes of the data buffer (a UTF-8 multi-byte character has no byte in ``0-9``): keep
    the digit bytes and recount each string's length; arrays with nulls take the regex path.
    """
    arr = as_string_array(values)
    n = len(arr)
    data_buf = arr.buffers()[2] if n else None
    if arr.null_count or data_buf is None:
        return pc.replace_substring_regex(arr, pattern=r"[^0-9]", replacement="")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(data_buf, dtype=np.uint8)[lo:hi]
    digit = (data - np.uint8(48)) < 10
    counts = np.zeros(hi - lo + 1, dtype=np.int64)
    np.cumsum(digit, out=counts[1:])
    new_off = counts[offsets.astype(np.int64) - lo].astype(np.int32)
    kept = data[digit]
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(new_off), pa.py_buffer(kept.tobytes())]
    )


def _prefix_int(values: pa.Array, k: int) -> np.ndarray:
    head = pc.utf8_slice_codeunits(values, start=0, stop=k)
    return np.asarray(pc.cast(head, pa.int64(), safe=False).to_numpy(zero_copy_only=False))


# --------------------------------------------------------------------------------------------
# Payment cards


def luhn_valid(digits: pa.Array) -> np.ndarray:
    """Luhn (mod 10) check of digit strings, all at once.

    Args:
        digits: Strings of ASCII digits only (at most 19).

    Returns:
        True where the check digit is right.
    """
    mat, _ = char_matrix(digits, 19, right=True)
    d = np.where(mat > 0, mat.astype(np.int64) - 48, 0)
    # Right-aligned: the check digit is the last column; every second digit left of it doubles.
    double = (np.arange(19)[::-1] % 2) == 1
    doubled = np.where(double, d * 2, d)
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    return (doubled.sum(axis=1) % 10) == 0


def card_issuer_valid(digits: pa.Array) -> np.ndarray:
    """Whether a digit string's prefix (IIN) and length belong to a card scheme.

    Schemes: Visa, Mastercard, American Express, Discover, JCB, Diners Club, UnionPay, Maestro
    (12-19 digits), UATP (15 digits from 1, the airlines' card).

    Args:
        digits: Strings of ASCII digits only.

    Returns:
        True where an issuer range accepts the prefix and the length.
    """
    if len(digits) == 0:
        return np.zeros(0, dtype=bool)
    n = np.asarray(pc.utf8_length(digits).to_numpy(zero_copy_only=False), dtype=np.int64)
    p1, p2, p3, p4, p6 = (_prefix_int(digits, k) for k in (1, 2, 3, 4, 6))
    visa = (p1 == 4) & np.isin(n, (13, 16, 19))
    master = (((p2 >= 51) & (p2 <= 55)) | ((p4 >= 2221) & (p4 <= 2720))) & (n == 16)
    amex = np.isin(p2, (34, 37)) & (n == 15)
    discover = (
        (p4 == 6011) | ((p3 >= 644) & (p3 <= 649)) | (p2 == 65) | ((p6 >= 622126) & (p6 <= 622925))
    ) & (n >= 16)
    # JCB: 3528-3589 (16-19 digits) in its own rules; generators and test data use all of 35xx,
    # and the 15-digit 1800/2131 ranges still circulate.
    jcb = ((p2 == 35) & (n >= 16)) | (np.isin(p4, (1800, 2131)) & (n == 15))
    diners = (((p3 >= 300) & (p3 <= 305)) | (p4 == 3095) | np.isin(p2, (36, 38, 39))) & (n >= 14)
    unionpay = (p2 == 62) & (n >= 16)
    maestro = (
        np.isin(p2, (50, 56, 57, 58)) | np.isin(p4, (6304, 6390, 6759, 6761, 6762, 6763, 604))
    ) & (n >= 12)
    uatp = (p1 == 1) & (n == 15)
    return (visa | master | amex | discover | jcb | diners | unionpay | maestro | uatp) & (n <= 19)


def card_valid(candidates: pa.Array) -> np.ndarray:
    """Payment card numbers: 12-19 digits, Luhn, and an issuer range (separators allowed)."""
    digits = digits_only(candidates)
    n = np.asarray(pc.utf8_length(digits).to_numpy(zero_copy_only=False))
    ok = (n >= 12) & (n <= 19)
    return ok & luhn_valid(digits) & card_issuer_valid(digits)


# --------------------------------------------------------------------------------------------
# IBAN


_POW10_MOD97 = np.array([pow(10, e, 97) for e in range(2 * IBAN_MAX + 1)], dtype=np.int32)


@cache
def _iban_length_table() -> np.ndarray:
    table = np.zeros(256 * 256, dtype=np.int64)
    for country, length in IBAN_LENGTHS.items():
        a, b = country.encode("ascii")
        table[a * 256 + b] = length
    return table


def iban_valid(candidates: pa.Array) -> np.ndarray:
    """IBANs: known country, the country's length, and ISO 7064 mod 97 == 1.

    A candidate longer than its country's length (a regex that ran on into the next word, e.g.
    ``DE89 ... 00 EUR``) is cut to that length before the check.

    Args:
        candidates: Upper-case candidate strings, spaces or dashes allowed.

    Returns:
        True where the IBAN is valid.
    """
    if len(candidates) == 0:
        return np.zeros(0, dtype=bool)
    compact = pc.replace_substring(candidates, pattern=" ", replacement="")
    compact = pc.replace_substring(compact, pattern="-", replacement="")
    mat, lengths = char_matrix(compact, IBAN_MAX + 2)
    # The country's length by table look-up on the first two bytes.
    want = _iban_length_table()[mat[:, 0].astype(np.int64) * 256 + mat[:, 1]]
    ok = (want > 0) & (lengths >= want)
    # Rearranged (chars 4..want-1, then country and check digits) in one gather: column j of
    # ``moved`` is character j + 4 of the IBAN, wrapping to the front after ``want``.
    want32 = want.astype(np.int32)[:, None]
    j = np.arange(IBAN_MAX, dtype=np.int32)[None, :] + 4
    pos = np.where(j < want32, j, j - want32)
    np.clip(pos, 0, mat.shape[1] - 1, out=pos)
    active = j < want32 + 4
    moved = np.take_along_axis(mat, pos, axis=1)
    is_digit = (moved - np.uint8(48)) <= 9
    is_upper = (moved - np.uint8(65)) <= 25
    ok &= (~active | is_digit | is_upper).all(axis=1)
    # Mod 97 of the number the characters spell (a letter is two digits, A = 10) as a sum of
    # each character's value times 10^(digits after it) mod 97: whole-matrix operations, no
    # sequential fold over the columns.
    value = np.where(is_digit, moved - np.uint8(48), moved - np.uint8(55))
    value[~active] = 0
    width = np.where(is_digit, np.int8(1), np.int8(2))
    width[~active] = 0
    after = np.cumsum(width[:, ::-1], axis=1, dtype=np.int16)[:, ::-1] - width
    rem = (value * _POW10_MOD97[after]).sum(axis=1, dtype=np.int64) % 97
    return ok & (rem == 1)


def iban_cut(candidates: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Cut IBAN candidates to their country's length; whether the cut ends at a boundary.

    A candidate that ran on into what follows ("DE89 ... 0130 00 EUR", "... 00 4111 ...") keeps
    its first ``length`` letters and digits (with the separators between them); one whose cut
    falls right before another letter or digit (inside a longer token) is not an IBAN. Unknown
    countries and short candidates are returned whole (the validator rejects them).
    """
    arr = as_string_array(candidates)
    n = len(arr)
    if n == 0:
        return arr, np.zeros(0, dtype=bool)
    # Only the candidates with more letters and digits than their country's length need a cut
    # (most have exactly as many): a count by bytes, then the matrix on those alone.
    lengths = np.asarray(pc.binary_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)
    seps = np.asarray(pc.count_substring(arr, " ").to_numpy(zero_copy_only=False), dtype=np.int64)
    seps += np.asarray(pc.count_substring(arr, "-").to_numpy(zero_copy_only=False), dtype=np.int64)
    head = char_matrix(arr, 2)[0].astype(np.int64)
    want = _iban_length_table()[head[:, 0] * 256 + head[:, 1]]
    long = (want > 0) & (lengths - seps > want)
    if not long.any():
        return arr, np.ones(n, dtype=bool)
    idx = np.flatnonzero(long)
    cut, fits = _iban_cut_long(arr.take(pa.array(idx, pa.int64())))
    take = np.arange(n, dtype=np.int64)
    take[idx] = n + np.arange(idx.size)
    out = as_string_array(pa.concat_arrays([arr, cut]).take(pa.array(take)))
    ok = np.ones(n, dtype=bool)
    ok[idx] = fits
    return out, ok


def _iban_cut_long(arr: pa.StringArray) -> tuple[pa.Array, np.ndarray]:
    n = len(arr)
    width = 2 * IBAN_MAX + 8
    mat, lengths = char_matrix(arr, width)
    alnum = ((mat - np.uint8(48)) <= 9) | ((mat - np.uint8(65)) <= 25)
    count = np.cumsum(alnum, axis=1, dtype=np.int16)
    want = _iban_length_table()[mat[:, 0].astype(np.int64) * 256 + mat[:, 1]]
    reached = (count >= want[:, None]) & (want[:, None] > 0)
    has = reached.any(axis=1)
    # Byte length of the cut: one past the want-th letter or digit.
    cut_len = np.where(has, reached.argmax(axis=1) + 1, lengths)
    nxt = mat[np.arange(n), np.minimum(cut_len, width - 1)]
    inside = (cut_len < lengths) & (((nxt - np.uint8(48)) <= 9) | ((nxt - np.uint8(65)) <= 25))
    if not (cut_len < lengths).any():
        return arr, ~inside
    starts = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data = arr.buffers()[2]
    new_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cut_len, out=new_off[1:])
    src = np.frombuffer(data, dtype=np.uint8)
    idx = np.repeat(starts[:-1].astype(np.int64) - new_off[:-1], cut_len) + np.arange(
        int(new_off[-1])
    )
    out = pa.Array.from_buffers(
        pa.string(),
        n,
        [None, pa.py_buffer(new_off.astype(np.int32)), pa.py_buffer(src[idx].tobytes())],
    )
    return out, ~inside


# --------------------------------------------------------------------------------------------
# US SSN


def ssn_valid(candidates: pa.Array) -> np.ndarray:
    """US social security numbers by the SSA's rules.

    Invalid: area 000, 666 or 900-999 (the latter are ITINs), group 00, serial 0000, and numbers
    voided after being published (078-05-1120 and others).

    Args:
        candidates: ``ddd-dd-dddd``, ``ddd dd dddd`` or 9 digits.

    Returns:
        True where the number can be an SSN.
    """
    digits = digits_only(candidates)
    n = np.asarray(pc.utf8_length(digits).to_numpy(zero_copy_only=False))
    value = np.asarray(pc.cast(digits, pa.int64(), safe=False).to_numpy(zero_copy_only=False))
    value = np.where(n == 9, value, -1)
    area, group, serial = value // 1_000_000, (value // 10_000) % 100, value % 10_000
    return (
        (n == 9)
        & (area > 0)
        & (area != 666)
        & (area < 900)
        & (group > 0)
        & (serial > 0)
        & ~np.isin(value, _VOID_SSNS)
    )


# --------------------------------------------------------------------------------------------
# IP addresses


def ipv4_valid(candidates: pa.Array) -> np.ndarray:
    """Dotted-quad IPv4 with octets 0-255, no leading zeros, not loopback or unspecified."""
    if len(candidates) == 0:
        return np.zeros(0, dtype=bool)
    parts = pc.extract_regex(
        candidates, r"^(?P<a>\d{1,3})\.(?P<b>\d{1,3})\.(?P<c>\d{1,3})\.(?P<d>\d{1,3})$"
    )
    ok = np.asarray(parts.is_valid().to_numpy(zero_copy_only=False))
    octets = []
    for name in ("a", "b", "c", "d"):
        field = pc.struct_field(parts, name)
        field = pc.if_else(parts.is_valid(), field, "0")
        lead0 = np.asarray(
            pc.match_substring_regex(field, r"^0\d").to_numpy(zero_copy_only=False), dtype=bool
        )
        v = np.asarray(pc.cast(field, pa.int64(), safe=False).to_numpy(zero_copy_only=False))
        ok &= ~lead0 & (v <= 255)
        octets.append(v)
    ok &= ~np.isin(octets[0], _NOT_PERSONAL_V4_FIRST)
    ok &= ~((octets[0] == 255) & (octets[1] == 255) & (octets[2] == 255) & (octets[3] == 255))
    return ok


_H6 = r"[0-9A-Fa-f]{1,4}"
_IPV6_HEX = (
    r"^(?:(?:H:){7}H|(?:H:){1,7}:|(?:H:){1,6}:H|(?:H:){1,5}(?::H){1,2}|(?:H:){1,4}(?::H){1,3}"
    r"|(?:H:){1,3}(?::H){1,4}|(?:H:){1,2}(?::H){1,5}|H:(?::H){1,6}|:(?:(?::H){1,7}|:))$"
).replace("H", _H6)


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def ipv6_valid(candidates: pa.Array) -> np.ndarray:
    """IPv6 per RFC 4291 (``ipaddress``), not loopback, unspecified or a router's link-local.

    A zone id (``%eth0``, RFC 4007) is allowed and not part of the check. Link-local addresses
    (``fe80::/10``) count when their interface id is derived from a MAC address or random
    (``fe80::1ff:fe23:4567:890a``), not when it is a small constant (``fe80::1``, a gateway).
    An IPv4-mapped address (``::ffff:81.2.69.160``) counts as its IPv4 address does.
    """
    out = np.zeros(len(candidates), dtype=bool)
    if len(candidates) == 0:
        return out
    candidates = pc.replace_substring_regex(candidates, pattern=r"%.*$", replacement="")
    # Vectorised pre-check of the group count, so ``ipaddress`` only sees plausible candidates:
    # without "::" an address has 8 groups (7 colons), or 6 and a dotted quad (6 colons); MAC
    # addresses (5 colons) and clock times (2) never reach the per-candidate parse.
    colons = np.asarray(pc.count_substring(candidates, ":").to_numpy(zero_copy_only=False))
    dotted = np.asarray(pc.match_substring(candidates, ".").to_numpy(zero_copy_only=False), bool)
    double = np.asarray(pc.match_substring(candidates, "::").to_numpy(zero_copy_only=False), bool)
    plausible = double | (colons == 7) | ((colons == 6) & dotted)
    # Without a dotted quad the whole check is one regex (RFC 4291 text forms, as ``ipaddress``
    # accepts them) plus the excluded ranges; only the rare dotted forms reach ``ipaddress``.
    hexonly = plausible & ~dotted
    if hexonly.any():
        sel = pa.array(hexonly)
        hx = candidates.filter(sel)
        valid = _mask(pc.match_substring_regex(hx, _IPV6_HEX))
        # Loopback (::1) and unspecified (::): every group zero but perhaps a last 1.
        special = _mask(pc.match_substring_regex(hx, r"^[0:]*(?:[0:]0{0,3}1)?$"))
        link_local = _mask(pc.match_substring_regex(hx, r"^[fF][eE][89abAB][0-9a-fA-F]:"))
        out[np.flatnonzero(hexonly)] = valid & ~special & ~link_local
        # Link-local ones (few) by ``ipaddress``, for their interface id.
        hexonly[np.flatnonzero(hexonly)] = valid & link_local
    idx = np.flatnonzero((plausible & dotted) | hexonly)
    texts = candidates.take(pa.array(idx, pa.int64())).to_pylist()
    for i, text in zip(idx.tolist(), texts, strict=True):
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            continue
        out[i] = _ipv6_personal(addr)
    return out


def _ipv6_personal(addr: ipaddress.IPv6Address) -> bool:
    mapped = addr.ipv4_mapped
    if mapped is not None:
        first = int(mapped) >> 24
        return first not in _NOT_PERSONAL_V4_FIRST and int(mapped) != 0xFFFFFFFF
    if addr.is_loopback or addr.is_unspecified:
        return False
    if addr.is_link_local:
        return (int(addr) & 0xFFFFFFFFFFFFFFFF) > 0xFFFF
    return True


# --------------------------------------------------------------------------------------------
# Phone numbers


@cache
def _country_codes() -> frozenset[str]:
    import phonenumbers

    return frozenset(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


_NUMBER_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


@cache
def _plan_for_code(cc: int) -> tuple[str, tuple[int, ...]] | None:
    """Union of the national-number patterns of every number type, and lengths, of one code.

    The per-type patterns (fixed line, mobile, toll free ...) as ``phonenumbers.is_valid_number``
    uses them, not the looser general pattern: a number in an unassigned range (NANP area code
    282) is not a phone number.
    """
    import phonenumbers
    from phonenumbers.phonenumberutil import PhoneMetadata

    patterns: list[str] = []
    lengths: set[int] = set()
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ()):
        md = (
            PhoneMetadata.metadata_for_nongeo_region(cc)
            if region == "001"
            else PhoneMetadata.metadata_for_region(region)
        )
        if md is None or md.general_desc is None or not md.general_desc.national_number_pattern:
            continue
        for kind in _NUMBER_TYPES:
            desc = getattr(md, kind, None)
            if desc is not None and desc.national_number_pattern:
                patterns.append(desc.national_number_pattern)
        lengths.update(md.general_desc.possible_length or ())
    if not patterns:
        return None
    return "^(?:" + "|".join(f"(?:{p})" for p in patterns) + ")$", tuple(sorted(lengths))


@cache
def region_code(region: str) -> int | None:
    """Calling code of a region (``GB`` → 44), or None for an unknown region."""
    import phonenumbers

    cc = phonenumbers.country_code_for_region(region.upper())
    return cc or None


def national_number_valid(national: pa.Array, cc: int) -> np.ndarray:
    """Whether national numbers fit the numbering plan of one calling code (length and pattern)."""
    plan = _plan_for_code(cc)
    if plan is None or len(national) == 0:
        return np.zeros(len(national), dtype=bool)
    pattern, lengths = plan
    n = np.asarray(pc.utf8_length(national).to_numpy(zero_copy_only=False))
    ok = np.isin(n, lengths)
    # The length first: the plan's regex is compiled per call (the union of a code's number
    # types is large), so it only runs when some candidate has a possible length.
    if ok.any():
        sub = national if ok.all() else national.filter(pa.array(ok))
        hit = pc.match_substring_regex(sub, pattern).to_numpy(zero_copy_only=False)
        ok[np.flatnonzero(ok)] = np.asarray(hit, dtype=bool)
    return ok


def international_phone_valid(candidates: pa.Array) -> np.ndarray:
    """``+<calling code> <national number>``: the code exists and the number fits its plan.

    Calling codes form a prefix code (ITU E.164), so at most one of the 1-3 digit prefixes is a
    code; numbers are grouped by code and each group is checked with one regex call.
    """
    # "+44 (0)20 ...": the national trunk prefix in parentheses is not dialled after the code.
    digits = digits_only(pc.replace_substring(candidates, pattern="(0)", replacement=""))
    out = np.zeros(len(digits), dtype=bool)
    if len(digits) == 0:
        return out
    codes = pa.array(sorted(_country_codes()))
    cc = np.full(len(digits), -1, dtype=np.int64)
    k_of = np.zeros(len(digits), dtype=np.int64)
    for k in (1, 2, 3):
        head = pc.utf8_slice_codeunits(digits, start=0, stop=k)
        hit = np.asarray(pc.is_in(head, value_set=codes).to_numpy(zero_copy_only=False), bool)
        hit &= cc < 0
        if hit.any():
            cc[hit] = np.asarray(head.to_numpy(zero_copy_only=False)[hit]).astype(np.int64)
            k_of[hit] = k
    for code in np.unique(cc[cc > 0]):
        idx = np.flatnonzero(cc == code)
        k = int(k_of[idx[0]])
        national = pc.utf8_slice_codeunits(digits.take(pa.array(idx)), start=k)
        ok = national_number_valid(national, int(code))
        # "+92 0512 ...": the trunk 0 written after the code (as ``phonenumbers`` reads it).
        trunk = ~ok & np.asarray(
            pc.starts_with(national, pattern="0").to_numpy(zero_copy_only=False), dtype=bool
        )
        if trunk.any():
            sub = pc.utf8_slice_codeunits(national.filter(pa.array(trunk)), start=1)
            ok[np.flatnonzero(trunk)] = national_number_valid(sub, int(code))
        out[idx] = ok
    return out


def idd_phone_valid(candidates: pa.Array) -> np.ndarray:
    """``00<calling code> <national number>`` (the international prefix of most of Europe).

    With a separator, it comes right after the calling code: ``004-98-9399`` is no call to
    +49 (the code would be 4).
    """
    ok = international_phone_valid(pc.utf8_slice_codeunits(candidates, start=2))
    if ok.any():
        head = pc.extract_regex(candidates, r"^00(?P<cc>\d{1,3})[ .\-/(]")
        sep = np.asarray(head.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if sep.any():
            cc = pc.struct_field(head, "cc")
            codes = pa.array(sorted(_country_codes()))
            known = np.asarray(
                pc.fill_null(pc.is_in(cc, value_set=codes), False).to_numpy(zero_copy_only=False),
                dtype=bool,
            )
            ok &= ~sep | known
    return ok


def national_phone_valid(candidates: pa.Array, regions: tuple[str, ...]) -> np.ndarray:
    """Numbers with a trunk prefix ``0`` (``020 7946 0958``): valid in any of ``regions``."""
    digits = digits_only(candidates)
    out = np.zeros(len(digits), dtype=bool)
    if len(digits) == 0:
        return out
    national = pc.utf8_slice_codeunits(digits, start=1)
    starts0 = np.asarray(
        pc.starts_with(digits, pattern="0").to_numpy(zero_copy_only=False), dtype=bool
    )
    # An SSN (078-05-1120, also when a digit group follows it) or a date (01-02-2023) written
    # with a leading zero is not a phone.
    other = pc.match_substring_regex(
        candidates,
        r"^\d{3}[-.]\d{2}[-.]\d{4}(?:\s|$)|^\d{3} \d{2} \d{4}$|^\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}$",
    )
    starts0 &= ~np.asarray(other.to_numpy(zero_copy_only=False), dtype=bool)
    for region in regions:
        cc = region_code(region)
        if cc is None or cc == 1:
            continue
        out |= starts0 & national_number_valid(national, cc)
    return out


def bare_code_phone_valid(candidates: pa.Array, codes: list[str]) -> np.ndarray:
    """A calling code of ``codes`` written without "+" (``49 30 1234567``), then its plan."""
    ok = international_phone_valid(candidates)
    if ok.any():
        digits = digits_only(candidates)
        code = np.zeros(len(digits), dtype=bool)
        for cc in codes:
            code |= np.asarray(pc.starts_with(digits, pattern=cc).to_numpy(zero_copy_only=False))
        ok &= code
    return ok


def nanp_phone_valid(candidates: pa.Array) -> np.ndarray:
    """North American numbers (``(212) 555-0123``): 10 digits that fit the NANP plan (+1)."""
    digits = digits_only(candidates)
    digits = pc.if_else(
        pc.starts_with(digits, pattern="1"), pc.utf8_slice_codeunits(digits, 1), digits
    )
    return national_number_valid(digits, 1)
