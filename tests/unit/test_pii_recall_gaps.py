"""Recall on text the project never saw: one test per class of miss an outside review found.

The values are generated (Luhn check digits, ISO 7064 IBAN check digits, SSA rules, numbering
plans via ``phonenumbers``), several per class, so the tests pin the class, not a fixture string.
"""

import random

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest

from quality_gates.components.pii_scan_gate.context import column_hints
from quality_gates.components.pii_scan_gate.detectors import entity_name, scan_array
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import check

POLICY = """
gates:
  pii:
    rationale: personal data must not reach a model or its reports
{extra}
"""


def run_pii_gate(data_uri: str, extra: str):
    """As ``tests/unit/test_pii_gate.py`` runs the gate (evaluation data only)."""
    return check(
        "pii", train_data_uri=None, data_uri=data_uri, policy_text=POLICY.format(extra=extra)
    )


RNG = random.Random(12)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _cards(n: int = 6) -> list[str]:
    out = []
    for prefix, length in [("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("3530", 16)] * n:
        body = prefix + "".join(RNG.choice("0123456789") for _ in range(length - len(prefix) - 1))
        out.append(body + _luhn_digit(body))
    return out[:n]


def _ibans(n: int = 6) -> list[str]:
    out = []
    for country, bban_len in [("DE", 18), ("FR", 23), ("GB", 18), ("NL", 14), ("ES", 20)] * n:
        bban = "".join(RNG.choice("0123456789") for _ in range(bban_len))
        if country in ("GB", "NL"):
            bban = "".join(RNG.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + bban[4:]
        num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
        out.append(f"{country}{98 - num % 97:02d}{bban}")
    return out[:n]


def _ssns(n: int = 6) -> list[str]:
    out = []
    while len(out) < n:
        area = RNG.randint(1, 899)
        if area == 666:
            continue
        out.append(f"{area:03d}-{RNG.randint(1, 99):02d}-{RNG.randint(1, 9999):04d}")
    return out


def _phones(region: str, n: int = 4) -> list[phonenumbers.PhoneNumber]:
    out = []
    while len(out) < n:
        ex = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE)
        nsn = str(ex.national_number)
        nsn = nsn[:-4] + "".join(RNG.choice("0123456789") for _ in range(4))
        num = phonenumbers.PhoneNumber(country_code=ex.country_code, national_number=int(nsn))
        if phonenumbers.is_valid_number(num):
            out.append(num)
    return out


def _found(cells, **kw) -> list[tuple[int, str, str]]:
    f = scan_array(pa.array(cells, pa.string()), **kw)
    return sorted(
        (int(r), entity_name(e), val)
        for r, e, val, c in zip(f.row, f.entity, f.values.to_pylist(), f.confidence, strict=True)
        if c >= 0.5
    )


def _has(cells, entity, values, **kw) -> None:
    found = _found(cells, **kw)
    for row, value in enumerate(values):
        assert (row, entity, value) in found, (cells[row], [f for f in found if f[0] == row])


def _grouped(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


# 1. A validated number inside an address-shaped cell is its own finding, and fails the gate.


def test_validated_numbers_survive_an_address_reading():
    cards, ssns = _cards(4), _ssns(4)
    cells = [f"12 Baker Street, London, card {c}" for c in cards]
    cells += [f"221 High Road, Leeds {s}" for s in ssns]
    f = scan_array(pa.array(cells, pa.string()), hints={"address"})
    by_row: dict[int, set[str]] = {}
    for r, e, c in zip(f.row, f.entity, f.confidence, strict=True):
        if c >= 0.5:
            by_row.setdefault(int(r), set()).add(entity_name(e))
    for row in range(len(cells)):
        want = "credit_card" if row < 4 else "ssn"
        assert {"address", want} <= by_row.get(row, set()), (cells[row], by_row.get(row))


@pytest.mark.parametrize("kind", ["card", "ssn", "iban", "phone"])
def test_gate_fails_when_an_address_column_holds_a_validated_number(tmp_path, kind):
    value = {
        "card": _grouped(_cards(1)[0]),
        "ssn": _ssns(1)[0],
        "iban": _grouped(_ibans(1)[0]),
        "phone": phonenumbers.format_number(
            _phones("GB", 1)[0], phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
    }[kind]
    n = 50
    addresses = [f"{10 + i} Station Road, Bristol" for i in range(n)]
    addresses[7] = f"{value}, 14 Station Road, Bristol"
    addresses[9] = f"14 Station Road {value}"
    pd.DataFrame({"address": addresses, "y": np.arange(n) % 2}).to_csv(
        tmp_path / "d.csv", index=False
    )
    extra = """    allow:
      - {column: address, entities: [address], rationale: "published branch addresses"}
"""
    r = run_pii_gate(str(tmp_path / "d.csv"), extra)
    assert r.status == Status.FAILED, r.summary
    check = next(c for c in r.checks if c.name == "evaluation data: column address")
    assert check.status == Status.FAILED and check.value == 2
    assert value not in r.summary and all(value not in (c.message or "") for c in r.checks)


# 2. A brand or label word right before the number.

LABELS = ["Visa", "VISA", "AMEX", "Card:", "Card#", "CC:", "No.", "card no.", "PAN:", "MC"]


def test_labels_glued_or_capitalised_do_not_hide_a_number():
    cards = _cards(len(LABELS))
    cells = [
        f"{lab}{'' if lab.endswith((':', '#')) else ' '}{c}"
        for lab, c in zip(LABELS, cards, strict=True)
    ]
    _has(cells, "credit_card", cards)
    ssns = _ssns(5)
    cells = [
        f"{lab}{s}" for lab, s in zip(["SSN#", "SSN:", "SSN ", "TIN: ", "SSN# "], ssns, strict=True)
    ]
    _has(cells, "ssn", ssns)
    ibans = _ibans(4)
    cells = [
        f"{lab}{i}" for lab, i in zip(["IBAN:", "IBAN ", "IBAN#", "Konto: "], ibans, strict=True)
    ]
    _has(cells, "iban", ibans)
    nums = [
        phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.NATIONAL)
        for p in _phones("GB", 3)
    ]
    cells = [f"{lab}{p}" for lab, p in zip(["Tel.", "TEL ", "Ph. "], nums, strict=True)]
    _has(cells, "phone", nums)


# 3. A number followed by another digit group.


def test_a_following_digit_group_does_not_drop_the_number():
    cards = _cards(6)
    tails = [" 12/27", " exp 03/29", " 2027", " CVV 123", " " + _cards(1)[0], " 5 items"]
    cells = [c + t for c, t in zip(cards, tails, strict=True)]
    _has(cells, "credit_card", cards)
    assert (4, "credit_card", tails[4].strip()) in _found(cells)  # the second number too
    ssns = _ssns(3)
    cells = [s + t for s, t in zip(ssns, [" 2024", " 12/03/1984", " 17"], strict=True)]
    _has(cells, "ssn", ssns)
    nums = [
        phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.NATIONAL)
        for p in _phones("GB", 3) + _phones("FR", 3)
    ]
    # (Regions whose plans have one length per range: a German number and a following group
    # can be one longer valid number.)
    cells = [f"call {p} {t}" for p, t in zip(nums, ["12", "2024", "03/12/1985"] * 2, strict=True)]
    f = _found(cells)
    for row, p in enumerate(nums):
        assert (row, "phone", p) in f, (cells[row], f)


# 4. IBANs: no run-on into the next word, dash separators.


def test_iban_ends_at_its_country_length_and_may_use_dashes():
    ibans = _ibans(6)
    after = [" EUR", " 4111 1111", " X in a sentence", " ABCD", " 12", ""]
    cells = [f"IBAN {_grouped(i)}{a}" for i, a in zip(ibans, after, strict=True)]
    _has(cells, "iban", [_grouped(i) for i in ibans])
    cells = [f"to {_grouped(i, '-')}." for i in ibans]
    _has(cells, "iban", [_grouped(i, "-") for i in ibans])
    # Glued to a longer token, or one letter short: not an IBAN.
    assert _found([f"{ibans[0]}7", ibans[1][:-1], f"{ibans[2][:4]}/{ibans[2][4:]}"]) == []


# 5. National phone formats per region.


def test_national_formats_with_dots_slashes_trunk_and_bare_country_code():
    cells, want = [], []
    for num in _phones("DE", 3):
        nat = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
        area, rest = nat.split(" ", 1)
        for text in (f"{area}/{rest.replace(' ', '')}", f"({area}) {rest}"):
            cells.append(f"Telefon {text}")
            want.append(text)
    for num in _phones("FR", 3):
        d = "0" + str(num.national_number)
        text = ".".join(d[i : i + 2] for i in range(0, 10, 2))
        cells.append(f"tel. {text}")
        want.append(text)
    for num in _phones("GB", 2) + _phones("DE", 2):
        intl = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        for text in ("00" + intl[1:], intl[1:]):  # 0044 20 ..., 44 20 ...
            cells.append(f"call {text}")
            want.append(text)
    for num in _phones("US", 2):
        d = str(num.national_number)
        for text in (f"1-{d[:3]}-{d[3:6]}-{d[6:]}", f"1 ({d[:3]}) {d[3:6]}-{d[6:]}"):
            cells.append(f"phone {text}")
            want.append(text)
    _has(cells, "phone", want)


# 6. SSNs in columns named for tax ids.


@pytest.mark.parametrize("column", ["tin", "taxpayer_id", "tax_id", "ssn_tin", "TaxID"])
def test_tax_id_columns_hint_ssns(column):
    assert "ssn" in column_hints(column)
    bare = [s.replace("-", "") for s in _ssns(4)]
    assert [e for _, e, _ in _found(bare, hints=column_hints(column))] == ["ssn"] * 4
    assert _found(bare) == []  # bare 9 digits without the column name are not SSNs
    assert column_hints("syntax_id") == set()


# 7. IPv6 forms.


def test_ipv6_zone_ids_embedded_ipv4_brackets_and_ports():
    r = random.Random(5)
    iid = lambda: ":".join(f"{r.randrange(0x100, 0x10000):x}" for _ in range(4))  # noqa: E731
    v4 = lambda: f"{r.randint(1, 126)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"  # noqa: E731
    addrs = [f"fe80::{iid()}%eth0", f"2001:db8::{iid()}%en0", f"::ffff:{v4()}", f"64:ff9b::{v4()}"]
    addrs += [f"2001:db8:{r.randrange(1, 0xFFFF):x}::{r.randrange(1, 0xFFFF):x}" for _ in range(2)]
    cells = [f"from [{a}]:8080" if "%" not in a else f"host {a}." for a in addrs]
    cells += [f"IPv6:{addrs[4]}", f"http://[{addrs[5]}]/path"]
    _has(cells, "ipv6", addrs + addrs[4:6])
    assert _found(["gateway fe80::1", "loopback ::1", "fe80::1%eth0"]) == []


# 8. Punctuation after an entity.


@pytest.mark.parametrize("punct", [".", ")", ";", ":", "!", "?", '"', "'", ",", "].", ".)"])
def test_punctuation_after_an_entity(punct):
    values = {
        "credit_card": _cards(1)[0],
        "ssn": _ssns(1)[0],
        "iban": _grouped(_ibans(1)[0]),
        "ipv4": "81.2.69.160",
        "ipv6": "2001:db8::8a2e:370:7334",
        "email": "jane.doe@example.org",
        "phone": "+44 20 7946 0958",
    }
    cells = [
        f"({v}{punct}" if punct.startswith(")") else f"see {v}{punct}" for v in values.values()
    ]
    found = _found(cells)
    for row, (entity, value) in enumerate(values.items()):
        assert (row, entity, value) in found, (cells[row], found)
