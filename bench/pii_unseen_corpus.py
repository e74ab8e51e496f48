"""Precision and recall of the PII detectors on a corpus the project never generated.

The project's own corpus (``components/pii_scan_gate/corpus.py``) is written by the same hand as
the detectors, so a score of 1.00 there says little. This corpus comes from ``Faker`` (six
locales: en_US, en_GB, de_DE, fr_FR, nl_NL, es_ES), whose formats nobody here chose: its phone
numbers, e-mail addresses, US SSNs, card numbers of every issuer it knows, IBANs, IPv4 and IPv6
addresses, embedded in free-text sentences and in structured columns, next to decoys (EAN-13,
ISBN, UUIDs, 9-10 digit ids, dates, amounts, version strings, postcodes).

Labelling rule (ground truth from checks independent of the detectors):

* phone: a Faker phone number (or ``+``-prefixed MSISDN) counts as a phone when
  ``phonenumbers.is_valid_number`` accepts it parsed in its locale's region. One that is not
  valid in its numbering plan is *ignored*: a prediction on it is neither a hit nor a false
  positive (the gate's contract is "validated numbers"; a bad fake is neither PII nor a decoy).
* ssn: ``stdnum.us.ssn.is_valid``; card: ``stdnum.luhn.is_valid`` on 12-19 digits; iban:
  ``stdnum.iban.is_valid``; ipv4/ipv6: ``ipaddress`` parses it and it is not loopback,
  unspecified or link-local. A generated value that fails its check is ignored as above.
* e-mail: every Faker address (plus variants with ``+tag`` and sub-domains) is an e-mail.
* decoys: every other number-shaped token; a prediction on one is a false positive.

Structured columns are scanned as the gate scans them (``scan_frame``'s path: the column name's
hints, then :func:`scan_array`); free text without any hint. Findings count from confidence
0.5 (the policy default).

    python bench/pii_unseen_corpus.py [--rows 20000] [--seed 7]

Needs the bench-only packages ``Faker`` and ``python-stdnum`` (not dependencies of the gate).
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time
from dataclasses import dataclass, field

ENTITIES = ("email", "phone", "ssn", "credit_card", "iban", "ipv4", "ipv6")
LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "nl_NL": "NL",
    "es_ES": "ES",
}
REGIONS = tuple(LOCALES.values())
CARD_TYPES = (
    "amex",
    "diners",
    "discover",
    "jcb15",
    "jcb16",
    "maestro",
    "mastercard",
    "visa13",
    "visa16",
    "visa19",
)
CONTEXT = {
    "email": ["e-mail:", "Email", "write to", "contact"],
    "phone": ["Tel.", "phone:", "call", "mobile", "Telefon:"],
    "ssn": ["SSN", "social security number", "SSN:"],
    "credit_card": ["card number", "paid with card", "Visa", "CC:"],
    "iban": ["IBAN", "IBAN:", "bank account", "transfer to"],
    "ipv4": ["IP", "from", "client address"],
    "ipv6": ["IPv6", "from", "host"],
}
COLUMNS = {
    "email": "email",
    "phone": "phone_number",
    "ssn": "ssn",
    "credit_card": "card_number",
    "iban": "iban",
    "ipv4": "ip_address",
    "ipv6": "ipv6",
}


@dataclass
class Labelled:
    """Cells of one column (or of free text) with labelled and ignored spans."""

    name: str
    texts: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, int, str]] = field(default_factory=list)  # row, start, end, type
    ignored: list[tuple[int, int, int, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Ground truth, from checks that are not the detectors'


def truth(entity: str, value: str, region: str) -> bool:
    """Whether a generated value is real PII of its type by an independent check."""
    if entity == "phone":
        import phonenumbers

        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(value, region))
        except phonenumbers.NumberParseException:
            return False
    if entity == "ssn":
        from stdnum.us import ssn

        # stdnum reads "123-45-6789" and "123456789"; the spaced form is the same number.
        return bool(ssn.is_valid(value.replace(" ", "-")))
    if entity == "credit_card":
        from stdnum import luhn

        digits = "".join(c for c in value if c.isdigit())
        return 12 <= len(digits) <= 19 and bool(luhn.is_valid(digits))
    if entity == "iban":
        from stdnum import iban

        return bool(iban.is_valid(value))
    if entity in ("ipv4", "ipv6"):
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            return False
        return not (addr.is_loopback or addr.is_unspecified or addr.is_link_local)
    return True


# --------------------------------------------------------------------------------------------
# Generation


class _Gen:
    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.r = random.Random(seed)
        self.fakers = {}
        for i, loc in enumerate(LOCALES):
            f = Faker(loc)
            f.seed_instance(seed * 100 + i)
            self.fakers[loc] = f

    def value(self, entity: str) -> tuple[str, str]:
        """A value of ``entity`` and the region it is to be checked in."""
        r = self.r
        loc = r.choice(list(LOCALES))
        f = self.fakers[loc]
        region = LOCALES[loc]
        if entity == "email":
            e = r.choice([f.email, f.free_email, f.company_email, f.ascii_safe_email])()
            local, domain = e.split("@")
            if r.random() < 0.2:
                # An ASCII tag: Faker's words are the locale's, and a non-ASCII local part
                # (RFC 6531) is outside the detectors' contract.
                local += "+" + self.fakers["en_US"].word().lower()
            if r.random() < 0.2:
                domain = r.choice(["mail", "eu", "corp", "mx1"]) + "." + domain
            return f"{local}@{domain}".lower() if r.random() < 0.5 else f"{local}@{domain}", region
        if entity == "phone":
            if r.random() < 0.1:
                msisdn = f.msisdn()  # digits only, sometimes with a leading 0: no "+" then
                return ("+" + msisdn if msisdn[0] != "0" else msisdn), region
            return f.phone_number(), region
        if entity == "ssn":
            f = self.fakers["en_US"]
            s = f.ssn()
            return (s.replace("-", " ") if r.random() < 0.1 else s), "US"
        if entity == "credit_card":
            number = f.credit_card_number(r.choice(CARD_TYPES))
            style = r.random()
            if style < 0.5 or len(number) not in (15, 16):
                return number, region
            groups = (
                [number[:4], number[4:10], number[10:]]
                if len(number) == 15
                else [number[i : i + 4] for i in range(0, 16, 4)]
            )
            return (" " if style < 0.8 else "-").join(groups), region
        if entity == "iban":
            iban = f.iban()
            if r.random() < 0.5:
                iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
            return iban, region
        if entity == "ipv4":
            return (f.ipv4_public() if r.random() < 0.8 else f.ipv4_private()), region
        addr = ipaddress.IPv6Address(f.ipv6())
        if r.random() < 0.3:
            # Faker's addresses are random in every group; a real one often has zero runs.
            groups = addr.exploded.split(":")
            k = r.randint(1, 4)
            at = r.randint(1, 7 - k)
            groups[at : at + k] = ["0000"] * k
            addr = ipaddress.IPv6Address(":".join(groups))
        return (addr.compressed if r.random() < 0.7 else addr.exploded), region

    def decoy(self) -> str:
        r = self.r
        f = self.fakers[r.choice(list(LOCALES))]
        kind = r.randrange(12)
        if kind == 0:
            return f"EAN {f.ean13()}"
        if kind == 1:
            return f"ISBN {f.isbn13()}"
        if kind == 2:
            return f"ISBN {f.isbn10()}"
        if kind == 3:
            return f"request {f.uuid4()}"
        if kind == 4:
            return f"customer no. {r.randint(100_000_000, 9_999_999_999)}"
        if kind == 5:
            return f"on {f.date()}"
        if kind == 6:
            return f"dated {f.date(pattern=r.choice(['%d/%m/%Y', '%m/%d/%Y', '%d.%m.%Y']))}"
        if kind == 7:
            return f"total {f.pricetag()}"
        if kind == 8:
            return f"release {r.randint(0, 12)}.{r.randint(0, 30)}.{r.randint(0, 99)}"
        if kind == 9:
            return f"postcode {f.postcode()}"
        if kind == 10:
            return f"order #{r.randint(10_000_000, 99_999_999)}"
        return f"build {r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 99)}.{r.randint(0, 999)}"

    def sentence(self) -> str:
        return self.fakers[self.r.choice(list(LOCALES))].sentence(nb_words=self.r.randint(4, 10))


def _add(col: Labelled, row: int, start: int, value: str, entity: str, region: str) -> None:
    span = (row, start, start + len(value), entity)
    (col.spans if truth(entity, value, region) else col.ignored).append(span)


def make_unseen(*, rows: int = 20_000, seed: int = 7) -> list[Labelled]:
    """Free-text cells and one structured column per entity type (and decoy columns).

    Args:
        rows: Free-text cells; each structured column has ``rows // 4`` cells.
        seed: Seed of Faker and of the layout.

    Returns:
        ``[free_text, <entity columns>..., <decoy columns>...]``.
    """
    g = _Gen(seed)
    r = g.r
    free = Labelled("free_text")
    for row in range(rows):
        text = g.sentence()
        for _ in range(r.randint(0, 2)):
            text += f" {g.decoy().capitalize()}."
        if r.random() < 0.6:
            entity = r.choice(ENTITIES)
            value, region = g.value(entity)
            lead = r.choice(CONTEXT[entity]) + " " if r.random() < 0.5 else ""
            text += " " + r.choice(["", "Note: ", "See "]) + lead
            _add(free, row, len(text), value, entity, region)
            text += value + r.choice([".", "", ",", ";", " today."])
            if r.random() < 0.3:
                text += f" {g.decoy().capitalize()}."
        free.texts.append(text)
    out = [free]
    for entity, column in COLUMNS.items():
        col = Labelled(column)
        for row in range(rows // 4):
            value, region = g.value(entity)
            _add(col, row, 0, value, entity, region)
            col.texts.append(value)
        out.append(col)
    decoy_columns = {
        "ean": lambda f: f.ean13(),
        "isbn": lambda f: g.r.choice([f.isbn10, f.isbn13])(),
        "request_id": lambda f: f.uuid4(),
        "customer_no": lambda f: str(g.r.randint(100_000_000, 9_999_999_999)),
        "created": lambda f: f.date(),
        "amount": lambda f: f.pricetag(),
        "version": lambda f: f"{g.r.randint(0, 12)}.{g.r.randint(0, 30)}.{g.r.randint(0, 99)}",
        "postcode": lambda f: f.postcode(),
    }
    for column, make in decoy_columns.items():
        col = Labelled(column)
        for _ in range(rows // 4):
            col.texts.append(make(g.fakers[r.choice(list(LOCALES))]))
        out.append(col)
    return out


# --------------------------------------------------------------------------------------------
# Scoring


def _overlaps(a: tuple[int, int, int, str], row: int, s: int, e: int) -> bool:
    return a[0] == row and s < a[2] and a[1] < e


def predict(
    col: Labelled, regions: tuple[str, ...] | None = None
) -> list[tuple[int, int, int, str]]:
    """Spans the detectors report in one column (confidence ≥ 0.5), as the gate scans it."""
    import pyarrow as pa

    from quality_gates.components.pii_scan_gate.context import column_hints, column_lowers
    from quality_gates.components.pii_scan_gate.detectors import entity_name, scan_array

    hints = set() if col.name == "free_text" else column_hints(col.name)
    lowers = set() if col.name == "free_text" else column_lowers(col.name) - hints
    # The policy's ``phone_regions``, set to the corpus's locales as a user would.
    f = scan_array(
        pa.array(col.texts, pa.string()),
        hints=hints,
        lowers=lowers,
        regions=REGIONS if regions is None else regions,
    )
    keep = f.confidence >= 0.5
    out = []
    for row, start, end, code in zip(
        f.row[keep], f.start[keep], f.end[keep], f.entity[keep], strict=True
    ):
        # Byte offsets → character offsets (Faker text can hold non-ASCII names).
        text = col.texts[int(row)]
        prefix = text.encode("utf-8")[: int(start)].decode("utf-8", "ignore")
        body = text.encode("utf-8")[int(start) : int(end)].decode("utf-8", "ignore")
        out.append((int(row), len(prefix), len(prefix) + len(body), entity_name(code)))
    return out


def score(
    cols: list[Labelled], *, examples: int = 0, regions: tuple[str, ...] | None = None
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Per entity type: tp, fp, fn, ignored predictions; and a few misses for reading."""
    out = {e: {"tp": 0, "fp": 0, "fn": 0, "ignored": 0, "unlabelled": 0} for e in ENTITIES}
    notes: list[str] = []
    for col in cols:
        preds = [p for p in predict(col, regions) if p[3] in out]
        by_row: dict[int, list] = {}
        for s in col.spans:
            by_row.setdefault(s[0], []).append(s)
        ign_by_row: dict[int, list] = {}
        for s in col.ignored:
            ign_by_row.setdefault(s[0], []).append(s)
            out[s[3]]["unlabelled"] += 1
        matched: set = set()
        for p in preds:
            row, s, e, ent = p
            hit = next(
                (
                    t
                    for t in by_row.get(row, [])
                    if t[3] == ent and t not in matched and _overlaps(t, row, s, e)
                ),
                None,
            )
            if hit is not None:
                matched.add(hit)
                out[ent]["tp"] += 1
            elif any(_overlaps(t, row, s, e) for t in ign_by_row.get(row, [])):
                out[ent]["ignored"] += 1
            else:
                out[ent]["fp"] += 1
                if len(notes) < examples:
                    notes.append(
                        f"FP {ent} in {col.name}: {col.texts[row][s:e]!r} | {col.texts[row]!r}"
                    )
        for t in col.spans:
            if t not in matched:
                out[t[3]]["fn"] += 1
                if len(notes) < examples:
                    notes.append(
                        f"FN {t[3]} in {col.name}: {col.texts[t[0]][t[1] : t[2]]!r} "
                        f"| {col.texts[t[0]]!r}"
                    )
    return out, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=0, help="print this many misses (raw text)")
    parser.add_argument(
        "--regions",
        default=",".join(REGIONS),
        help="phone regions (the policy's phone_regions); default: the corpus's locales",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    cols = make_unseen(rows=args.rows, seed=args.seed)
    n_spans = sum(len(c.spans) for c in cols)
    n_ign = sum(len(c.ignored) for c in cols)
    n_cells = sum(len(c.texts) for c in cols)
    print(
        f"unseen corpus (Faker, {len(LOCALES)} locales, seed {args.seed}): {n_cells} cells in "
        f"{len(cols)} columns, {n_spans} labelled entities, {n_ign} generated values ignored "
        f"(failed the independent check); built in {time.perf_counter() - t0:.1f} s"
    )
    regions = tuple(r.strip().upper() for r in args.regions.split(",") if r.strip())
    print(f"phone regions: {', '.join(regions)}")
    scores, notes = score(cols, examples=args.show, regions=regions)
    print("| entity | precision | recall | tp | fp | fn | on ignored values | ignored values |")
    print("|---|---|---|---|---|---|---|---|")
    for e in ENTITIES:
        d = scores[e]
        p = d["tp"] / (d["tp"] + d["fp"]) if d["tp"] + d["fp"] else 1.0
        rc = d["tp"] / (d["tp"] + d["fn"]) if d["tp"] + d["fn"] else 1.0
        print(
            f"| {e} | {p:.4f} | {rc:.4f} | {d['tp']} | {d['fp']} | {d['fn']} | "
            f"{d['ignored']} | {d['unlabelled']} |"
        )
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
