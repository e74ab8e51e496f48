"""Detectors over whole columns: decoys, context, column hints, overlaps, and the corpus."""

import pyarrow as pa
import pytest

from quality_gates.components.pii_scan_gate.context import column_hints
from quality_gates.components.pii_scan_gate.corpus import BENCH_ENTITIES, Span, make_corpus, score
from quality_gates.components.pii_scan_gate.detectors import entity_name, scan_array, variants


def _found(cells, min_conf=0.5, **kw):
    f = scan_array(pa.array(cells, pa.string()), **kw)
    return sorted(
        (int(r), entity_name(e), val)
        for r, e, val, c in zip(f.row, f.entity, f.values.to_pylist(), f.confidence, strict=True)
        if c >= min_conf
    )


def test_each_entity_in_free_text():
    cells = [
        "write to john.smith@example.com today",
        "call +44 20 7946 0958 or (212) 555-0123",
        "SSN: 123-45-6788.",
        "paid with 4111 1111 1111 1111, thanks",
        "IBAN GB82 WEST 1234 5698 7654 32",
        "login from 81.2.69.160 and 2001:db8::8a2e:370:7334",
    ]
    assert _found(cells) == [
        (0, "email", "john.smith@example.com"),
        (1, "phone", "(212) 555-0123"),
        (1, "phone", "+44 20 7946 0958"),
        (2, "ssn", "123-45-6788"),
        (3, "credit_card", "4111 1111 1111 1111"),
        (4, "iban", "GB82 WEST 1234 5698 7654 32"),
        (5, "ipv4", "81.2.69.160"),
        (5, "ipv6", "2001:db8::8a2e:370:7334"),
    ]


def test_decoys_are_not_reported():
    cells = [
        "order ORD-2023-004512, invoice INV-123-45-6789",
        "on 2023-04-05, due 05/04/2023, at 12:30:45",
        "customer id 482910384, ref 4829103841",
        "build v2.14.3.1, host 300.12.4.5, mac 00:1A:2B:3C:4D:5E",
        "card 4111 1111 1111 1112, account DE89 3704 0044 0532 0130 01",
        "tax id 900-12-3456, image logo@2x.png, sha 2e90af393b1595af7ca0bae6edaddf65f161f053",
        "amount $1,234,567.89",
        None,
    ]
    assert _found(cells) == []


def test_context_words_lift_and_lower():
    # A dotted quad after "version" is a version string: found, but below the threshold.
    assert _found(["version 1.2.3.4"]) == []
    assert _found(["version 1.2.3.4"], min_conf=0.0) == [(0, "ipv4", "1.2.3.4")]
    # A bare 9-digit number is an SSN only right after an SSN context word.
    assert _found(["ssn 234567890"]) == [(0, "ssn", "234567890")]
    assert _found(["ssn 123-45-6788, customer id 234567890"]) == [(0, "ssn", "123-45-6788")]
    # Dates are dates of birth only in context.
    assert _found(["born 1984-03-12"]) == [(0, "date_of_birth", "1984-03-12")]
    assert _found(["shipped 1984-03-12"]) == []


def test_column_hints_and_cell_shapes():
    assert column_hints("customer_email") == {"email"}
    assert column_hints("DateOfBirth") == {"date_of_birth"}
    assert column_hints("full_name") == {"person_name"}
    assert column_hints("username") == set()
    assert column_hints("product_name") == set()
    assert column_hints("applicant_id") == set() and column_hints("sex") == set()
    names = ["John Smith", "Maria Garcia", "O'Neil, Pat", None]
    assert [e for _, e, _ in _found(names, hints={"person_name"})] == ["person_name"] * 3
    assert _found(names) == []  # without the column name, capitalised words are not names
    dobs = ["1984-03-12", "12/03/1984"]
    assert len(_found(dobs, hints={"date_of_birth"})) == 2


def test_overlapping_readings_keep_one():
    # The digits of an IBAN are not also a card or a phone number.
    found = _found(["account ES91 2100 0418 4502 0005 1332"])
    assert found == [(0, "iban", "ES91 2100 0418 4502 0005 1332")]
    # Several matches of one type in one cell are all found, with offsets.
    f = scan_array(pa.array(["a@example.com, b@example.org,c@example.net"]))
    assert f.values.to_pylist() == ["a@example.com", "b@example.org", "c@example.net"]
    assert f.start.tolist() == [0, 15, 29]


def test_integer_columns_are_scanned():
    f = scan_array(pa.array([4111111111111111, 12], pa.int64()).cast(pa.string()))
    assert [entity_name(e) for e in f.entity] == ["credit_card"]


@pytest.mark.parametrize("seed", [101, 202])
def test_precision_and_recall_on_an_unseen_corpus(seed):
    corpus = make_corpus(n_rows=4000, seed=seed)
    f = scan_array(pa.array(corpus.texts), all_variants=variants())
    keep = f.confidence >= 0.5
    pred = [
        Span(int(r), int(s), int(e), entity_name(x))
        for r, s, e, x in zip(f.row[keep], f.start[keep], f.end[keep], f.entity[keep], strict=True)
    ]
    result = score(corpus, pred)
    for entity in BENCH_ENTITIES:
        assert result[entity]["tp"] > 100, entity
        assert result[entity]["precision"] >= 0.99, (entity, result[entity])
        assert result[entity]["recall"] >= 0.99, (entity, result[entity])


def test_clauses_scan_like_whole_cells():
    from quality_gates.components.pii_scan_gate.detectors import segments

    cells = ["a, b; c, 1, x", None, "", "x, ", ", y"]
    seg = segments(pa.array(cells, pa.string()))
    assert seg.values.to_pylist() == ["a,", " b;", " c, 1,", " x", "x,", " ", ",", " y"]
    assert seg.row.tolist() == [0, 0, 0, 0, 3, 3, 4, 4]
    assert seg.base.tolist() == [0, 2, 5, 11, 0, 2, 0, 1]
    # Matches right before and after a cut, a date holding ", " and a boundary eaten by a match.
    found = _found(
        [
            "ssn 123-45-6788, call (212) 555-0123; x",
            "a@example.com, b@example.org;c@example.net",
            "born May 5, 1984, ok",
            "host 81.2.69.160, 2001:db8::8a2e:370:7334, end",
        ]
    )
    assert found == [
        (0, "phone", "(212) 555-0123"),
        (0, "ssn", "123-45-6788"),
        (1, "email", "a@example.com"),
        (1, "email", "b@example.org"),
        (1, "email", "c@example.net"),
        (2, "date_of_birth", "May 5, 1984"),
        (3, "ipv4", "81.2.69.160"),
        (3, "ipv6", "2001:db8::8a2e:370:7334"),
    ]


def test_byte_prefilters_agree_with_regex():
    """The byte-level pre-filters (literals, character-class runs) equal a regex search."""
    import random
    import re

    import numpy as np
    import pyarrow.compute as pc

    from quality_gates.components.pii_scan_gate.detectors import _run_mask

    rng = random.Random(3)
    digits, upper = "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    classes = [("@",), (".",), (digits, ".", digits), (upper, upper, digits, digits)]
    for _ in range(200):
        cells = [
            None
            if rng.random() < 0.1
            else "".join(rng.choices("@.:1 9AGBé😀", k=rng.randint(0, 7)))
            for _ in range(rng.randint(0, 20))
        ]
        arr = pa.array(cells, pa.string())
        for part in (arr, arr.slice(min(2, len(arr)))):
            for cls in classes:
                body = "".join("[" + "".join(re.escape(ch) for ch in c) + "]" for c in cls)
                want = pc.fill_null(pc.match_substring_regex(part, body), False)
                assert np.array_equal(_run_mask(part, cls), want.to_numpy(zero_copy_only=False))


def test_context_prefilter_keeps_needs_context_findings():
    """Bare numbers need a context word before them; cells without one are skipped early."""
    cells = [
        "ssn 234567890",
        "id 234567890",
        "tel 2125550123, ref 2125550123",
        "SSN: 234567890; other 234567890",
    ]
    found = [(r, e) for r, e, _ in _found(cells, min_conf=0.0)]
    assert (0, "ssn") in found and (2, "phone") in found and (3, "ssn") in found
    assert not any(r == 1 for r, _ in found)
    hinted = [(r, e) for r, e, _ in _found(cells, min_conf=0.0, hints={"ssn"})]
    assert (1, "ssn") in hinted
