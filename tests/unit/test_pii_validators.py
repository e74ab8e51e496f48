"""Known-answer tests of the PII validators and detectors, from public test vectors."""

import numpy as np
import pyarrow as pa
import pytest

from quality_gates.components.pii_scan_gate import validators as v
from quality_gates.components.pii_scan_gate.corpus import iban_check, luhn_digit
from quality_gates.components.pii_scan_gate.masking import mask


def _ok(fn, values):
    return fn(pa.array(values, pa.string())).tolist()


# Test card numbers published by the card schemes / payment processors.
VALID_CARDS = [
    "4111111111111111",  # Visa
    "4012888888881881",  # Visa
    "4222222222222",  # Visa, 13 digits
    "5555555555554444",  # Mastercard
    "5105105105105100",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express
    "371449635398431",  # American Express
    "6011111111111117",  # Discover
    "6011000990139424",  # Discover
    "3530111333300000",  # JCB
    "3566002020360505",  # JCB
    "30569309025904",  # Diners Club
    "6200000000000005",  # UnionPay
    "4111 1111 1111 1111",
    "3782-822463-10005",
]
INVALID_CARDS = [
    "4111111111111112",  # Luhn
    "5555555555554443",  # Luhn
    "1234567812345670",  # Luhn-valid, no issuer starts with 1
    "9999999999999995",  # Luhn-valid, no issuer
    "37828224631000",  # Amex prefix, wrong length
    "411111111111",  # too short
]


def test_luhn_and_issuer_known_answers():
    assert _ok(v.card_valid, VALID_CARDS) == [True] * len(VALID_CARDS)
    assert _ok(v.card_valid, INVALID_CARDS) == [False] * len(INVALID_CARDS)


def test_luhn_digit_matches_vectorised_luhn():
    rng = np.random.default_rng(0)
    bodies = ["4" + "".join(map(str, rng.integers(0, 10, 14))) for _ in range(200)]
    numbers = [b + luhn_digit(b) for b in bodies]
    assert all(v.luhn_valid(pa.array(numbers)))
    off = [n[:-1] + str((int(n[-1]) + 1) % 10) for n in numbers]
    assert not any(v.luhn_valid(pa.array(off)))


# IBAN examples of the SWIFT IBAN registry and of national banks.
VALID_IBANS = [
    "GB82 WEST 1234 5698 7654 32",
    "GB33BUKB20201555555555",
    "DE89 3704 0044 0532 0130 00",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "CH93 0076 2011 6238 5295 7",
    "BE68 5390 0754 7034",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "NO93 8601 1117 947",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
]
INVALID_IBANS = [
    "GB82 WEST 1234 5698 7654 33",  # check digits
    "DE89 3704 0044 0532 0130 01",  # check digits
    "GB82 WEST 1234 5698 7654",  # too short for GB
    "XX82 WEST 1234 5698 7654 32",  # no such country
    "DE00 3704 0044 0532 0130 00",
]


def test_iban_known_answers():
    assert _ok(v.iban_valid, VALID_IBANS) == [True] * len(VALID_IBANS)
    assert _ok(v.iban_valid, INVALID_IBANS) == [False] * len(INVALID_IBANS)


def test_iban_check_digits_generator_agrees():
    assert iban_check("GB", "WEST12345698765432") == "82"
    assert iban_check("DE", "370400440532013000") == "89"


def test_iban_trailing_word_is_cut_to_country_length():
    assert _ok(v.iban_valid, ["DE89 3704 0044 0532 0130 00 EUR"]) == [True]


def test_ssn_rules():
    valid = ["123-45-6788", "001-01-0001", "899-99-9999", "665-12-3456", "234567890"]
    invalid = [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "900-12-3456",  # ITIN range
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "078-05-1120",  # voided (Woolworth wallet card)
        "219-09-9999",  # voided (advertising)
    ]
    assert _ok(v.ssn_valid, valid) == [True] * len(valid)
    assert _ok(v.ssn_valid, invalid) == [False] * len(invalid)


def test_ipv4_and_ipv6():
    assert _ok(v.ipv4_valid, ["81.2.69.160", "192.168.1.20", "8.8.8.8"]) == [True] * 3
    bad = ["256.1.1.1", "1.2.3.300", "127.0.0.1", "0.0.0.0", "01.2.3.4", "255.255.255.255"]
    assert _ok(v.ipv4_valid, bad) == [False] * len(bad)
    good6 = ["2001:db8::8a2e:370:7334", "2a00:1450:4001:81b::200e", "::ffff:81.2.69.160"]
    assert _ok(v.ipv6_valid, good6) == [True] * 3
    bad6 = ["12:30:45", "00:1A:2B:3C:4D:5E", "::1", "::", "fe80::1", "1:2:3:4:5:6:7:8:9"]
    assert _ok(v.ipv6_valid, bad6) == [False] * len(bad6)


def test_ipv6_group_count_precheck_keeps_every_valid_form():
    """The vectorised pre-check before ``ipaddress`` must not drop a valid address."""
    good = [
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",  # 8 groups, 7 colons
        "2001:db8:0:0:1:0:81.2.69.160",  # 6 groups and a dotted quad
        "2001:db8::81.2.69.160",
        "2001:db8:85a3::",
    ]
    assert _ok(v.ipv6_valid, good) == [True] * len(good)
    bad = ["2001:db8:85a3:0:0:8a2e:7334", "1:2:3:4:5:81.2.69.160", "2001::db8::1", ""]
    assert _ok(v.ipv6_valid, bad) == [False] * len(bad)
    assert _ok(v.ipv6_valid, []) == []


def test_phone_numbering_plans():
    assert (
        _ok(
            v.international_phone_valid,
            ["+44 20 7946 0958", "+1 212 555 0123", "+49 30 901820", "+33 1 42 68 53 00"],
        )
        == [True] * 4
    )
    # +1 123 ...: no NANP area code starts with 1; +999 is not a calling code; too short.
    assert (
        _ok(v.international_phone_valid, ["+1 123 456 7890", "+999 1234 5678", "+44 20"])
        == [False] * 3
    )
    assert _ok(v.nanp_phone_valid, ["(212) 555-0123", "415-555-2671", "123-456-7890"]) == [
        True,
        True,
        False,
    ]
    regions = ("GB", "DE", "FR")
    assert v.national_phone_valid(
        pa.array(["020 7946 0958", "030 901820", "01 42 68 53 00", "078-05-1120", "01-02-2023"]),
        regions,
    ).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize(
    "entity, raw, masked",
    [
        ("email", "john.smith@example.com", "j***@e***.com"),
        ("credit_card", "4111 1111 1111 1234", "**** **** **** 1234"),
        ("ssn", "123-45-6788", "***-**-****"),
        ("phone", "+44 20 7946 0958", "+** ** **** **58"),
        ("iban", "DE89 3704 0044 0532 0130 00 EUR", "DE** **** 3000"),
        ("ipv4", "81.2.69.160", "81.***.***.***"),
        ("person_name", "John Smith", "J*** S***"),
        ("date_of_birth", "1984-03-12", "****-**-**"),
    ],
)
def test_masking_keeps_shape_not_identity(entity, raw, masked):
    assert mask(entity, raw) == masked
    assert raw not in mask(entity, raw)


def test_ipv6_vectorised_check_agrees_with_ipaddress():
    import ipaddress
    import random

    rng = random.Random(3)
    cands = "::1 :: 0:0:0:0:0:0:0:1 0000::0001 fe80::1 FEBF::1 fec0::1 1:2:3:4:5:6:7:: "
    cands += "::1:2:3:4:5:6:7 1::2:3:4:5:6:7 2001:db8::8a2e:370:7334 ::: 1:::2 ::10 ::01:0 "
    cands += "12345::1 ::ffff:1.2.3.4 B3:DF:5C:1F:EF:14"
    cands = cands.split()
    for _ in range(5000):
        sizes = [rng.choice([0, 1, 2, 4, 5]) for _ in range(rng.randint(1, 9))]
        cands.append(":".join("".join(rng.choice("00011fFeE8ab") for _ in range(k)) for k in sizes))

    def reference(text):
        try:
            a = ipaddress.IPv6Address(text)
        except ValueError:
            return False
        return not (a.is_loopback or a.is_unspecified or a.is_link_local)

    got = v.ipv6_valid(pa.array(cands))
    assert got.tolist() == [reference(c) for c in cands]
    assert got.sum() > 100


def test_digits_only_matches_regex_removal():
    import random

    import pyarrow as pa
    import pyarrow.compute as pc

    from quality_gates.components.pii_scan_gate.validators import digits_only

    rng = random.Random(4)
    for _ in range(100):
        cells = ["".join(rng.choices("0129 -+().aé😀", k=rng.randint(0, 15))) for _ in range(20)]
        arr = pa.array(cells, pa.string())
        for part in (arr, arr.slice(3), pa.array([*cells[:3], None])):
            want = pc.replace_substring_regex(part, pattern=r"[^0-9]", replacement="")
            assert digits_only(part).equals(want)


def test_card_ranges_seen_on_an_unseen_corpus():
    # Maestro from 12 digits, JCB's 15-digit 1800/2131 ranges and all of 35xx (16 digits).
    valid = ["503831131951", "630430005383", "180039382016343", "213141120803858"]
    valid.append("3514214007496052")
    assert _ok(v.card_valid, valid) == [True] * len(valid)
    # Luhn-valid, but a 12-digit Visa does not exist and JCB's 1800/2131 ranges are 15 digits.
    invalid = ["411111111117", "180039382015", "2131411208038585"]
    assert _ok(v.luhn_valid, invalid) == [True] * 3
    assert _ok(v.card_valid, invalid) == [False] * 3


def test_international_numbers_with_a_trunk_prefix():
    # "(0)" is written but not dialled; "+92 0512 ..." carries the trunk 0 after the code.
    numbers = ["+44(0)20 7946 0958", "+33 (0)1 44 53 20 57", "+92 0512 345678"]
    assert _ok(v.international_phone_valid, numbers) == [True] * 3
    assert _ok(v.international_phone_valid, ["+44(0)0 7946 0958", "+49 00 1234"]) == [False] * 2
    assert _ok(v.idd_phone_valid, ["0044 20 7946 0958", "0049 30 1234567", "0099 1234"]) == [
        True,
        True,
        False,
    ]


def test_phone_plans_use_the_number_types():
    """Per-type patterns (as ``phonenumbers.is_valid_number``): unassigned ranges fail."""
    import phonenumbers

    samples = ["(212) 555-0123", "(282) 394-4142", "(415) 555-2671", "(800) 555-0199"]
    want = [phonenumbers.is_valid_number(phonenumbers.parse(s, "US")) for s in samples]
    assert _ok(v.nanp_phone_valid, samples) == want
    assert want[1] is False


def test_iban_matches_a_plain_python_mod97():
    """The vectorised check against a straightforward reading of ISO 13616, on fuzzed input."""
    import random

    def reference(text: str) -> bool:
        s = text.replace(" ", "")
        want = v.IBAN_LENGTHS.get(s[:2])
        if want is None or len(s) < want:
            return False
        s = s[:want]
        if not all(c.isdigit() or "A" <= c <= "Z" for c in s):
            return False
        moved = s[4:] + s[:4]
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1

    rng = random.Random(5)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ a-"
    cases = []
    for _ in range(4000):
        country = rng.choice(list(v.IBAN_LENGTHS) + ["XX", "de"])
        size = v.IBAN_LENGTHS.get(country.upper(), 20) - 4 + rng.choice([0, 0, 0, -1, 2])
        body = "".join(rng.choices("0123456789", k=size))
        if rng.random() < 0.5:
            check = iban_check(country.upper(), body) if country.isupper() else "00"
        else:
            check = f"{rng.randint(0, 99):02d}"
        text = country + check + body
        if rng.random() < 0.2:
            text = "".join(rng.choice(alphabet) if rng.random() < 0.05 else c for c in text)
        if rng.random() < 0.3:
            text = " ".join(text[i : i + 4] for i in range(0, len(text), 4))
        cases.append(text)
    got = _ok(v.iban_valid, cases)
    assert got == [reference(c) for c in cases]
    assert sum(got) > 500


def test_char_matrix_matches_python_slicing():
    import random

    rng = random.Random(9)
    texts = ["".join(rng.choices("0123456789AB", k=rng.randint(0, 25))) for _ in range(500)]
    arr = pa.array(texts).slice(3)
    for width in (1, 7, 19, 40):
        left, n = v.char_matrix(arr, width)
        right, _ = v.char_matrix(arr, width, right=True)
        for i, t in enumerate(texts[3:]):
            b = t.encode()
            assert n[i] == len(b)
            assert bytes(left[i][: min(len(b), width)]) == b[:width]
            assert bytes(right[i][width - min(len(b), width) :]) == (b[-width:] if b else b"")
