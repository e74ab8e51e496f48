"""A labelled corpus of free-text cells with personal data and many decoys, for tests and bench.

Positives: e-mail addresses, phone numbers (international, North American and European national
formats, all valid in their numbering plan), US SSNs, payment card numbers (Luhn-valid, real
issuer ranges), IBANs (right length and mod-97 check digits), public IPv4 and IPv6 addresses.
Decoys (not personal data, and must not be reported): cards and IBANs with a wrong check digit,
SSNs with an invalid area/group/serial, order and invoice numbers, dates, 9- and 10-digit ids,
version strings, out-of-range IPs, MAC addresses, clock times, amounts, retina image names and hex
digests. Every positive is recorded with its cell and character span, so precision and recall can
be computed by span overlap for any detector.

The generator is plain Python (it is not on any hot path) and deterministic for a seed.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

BENCH_ENTITIES = ("email", "phone", "ssn", "credit_card", "iban", "ipv4", "ipv6")

_FIRST = ["alex", "maria", "john", "li", "fatima", "jan", "olga", "sam", "noah", "emma", "yuki"]
_LAST = ["smith", "garcia", "chen", "novak", "okafor", "jensen", "rossi", "khan", "muller"]
_DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "uni.example.ac.uk",
            "example.de", "shop.example.io", "example.fr"]  # fmt: skip
_FILLER = [
    "customer asked about the loan terms",
    "called twice last week, prefers mornings",
    "documents received and checked",
    "reminder sent about the overdue payment",
    "application reviewed by the branch team",
    "no further action needed at this time",
    "requested a copy of the agreement",
    "follow up after the holidays",
]
_IBAN_BBAN = {  # country: (length, BBAN layout: n = digit, a = upper letter, c = either)
    "DE": "nnnnnnnnnnnnnnnnnn",
    "GB": "aaaannnnnnnnnnnnnn",
    "FR": "nnnnnnnnnnccccccccccc" + "nn",
    "NL": "aaaannnnnnnnnn",
    "ES": "nnnnnnnnnnnnnnnnnnnn",
    "IT": "annnnnnnnnn" + "cccccccccccc",
    "CH": "nnnnncccccccccccc",
    "BE": "nnnnnnnnnnnn",
}
_CARD_PREFIXES = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("34", 15),
                  ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14),
                  ("62", 16)]  # fmt: skip
_PHONE_REGIONS = ["US", "GB", "DE", "FR", "NL", "IT", "ES", "JP", "IN", "BR", "AU", "CH"]


@dataclass(frozen=True)
class Span:
    """One labelled entity: the cell, its character span and its type."""

    row: int
    start: int
    end: int
    entity: str


@dataclass(frozen=True)
class Corpus:
    """Cells of text and the labelled entities in them."""

    texts: list[str]
    spans: list[Span]

    @property
    def n_bytes(self) -> int:
        """UTF-8 size of the text."""
        return sum(len(t.encode("utf-8")) for t in self.texts)


def luhn_digit(body: str) -> str:
    """The Luhn check digit that completes ``body``."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def iban_check(country: str, bban: str) -> str:
    """The two ISO 7064 mod-97 check digits of an IBAN."""
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    return f"{98 - number % 97:02d}"


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def digits(self, n: int) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(n))

    # positives -------------------------------------------------------------------------
    def email(self) -> str:
        r = self.r
        local = r.choice(_FIRST) + r.choice([".", "_", ""]) + r.choice(_LAST)
        if r.random() < 0.3:
            local += str(r.randint(1, 999))
        if r.random() < 0.1:
            local += "+news"
        return f"{local}@{r.choice(_DOMAINS)}"

    def phone(self) -> str:
        import phonenumbers

        r = self.r
        while True:
            region = r.choice(_PHONE_REGIONS)
            example = phonenumbers.example_number(region)
            national = str(example.national_number)
            digits = national[:2] + self.digits(len(national) - 2)
            num = phonenumbers.parse("+" + str(example.country_code) + digits, None)
            if not phonenumbers.is_valid_number(num):
                continue
            if region in ("US", "GB", "DE", "FR") and r.random() < 0.5:
                return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
            fmt = r.choice(
                [phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164]
            )
            return phonenumbers.format_number(num, fmt)

    def ssn(self) -> str:
        r = self.r
        area = r.choice([a for a in (r.randint(1, 899),) if a != 666] or [123])
        return f"{area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"

    def card(self, valid: bool = True) -> str:
        prefix, n = self.r.choice(_CARD_PREFIXES)
        body = prefix + self.digits(n - len(prefix) - 1)
        check = luhn_digit(body)
        if not valid:
            check = str((int(check) + self.r.randint(1, 9)) % 10)
        number = body + check
        if n == 15:
            groups = [number[:4], number[4:10], number[10:]]
        elif n == 14:
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i : i + 4] for i in range(0, n, 4)]
        style = self.r.random()
        if style < 0.3:
            return number
        return (" " if style < 0.8 else "-").join(groups)

    def iban(self, valid: bool = True) -> str:
        r = self.r
        country = r.choice(sorted(_IBAN_BBAN))
        layout = _IBAN_BBAN[country]
        alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        bban = "".join(
            r.choice("0123456789")
            if c == "n"
            else r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if c == "a"
            else r.choice(alnum)
            for c in layout
        )
        check = iban_check(country, bban)
        if not valid:
            check = f"{(int(check) + r.randint(1, 50)) % 97 + 2:02d}"
            if check == iban_check(country, bban):
                check = f"{(int(check) % 96) + 2:02d}"
        compact = country + check + bban
        if r.random() < 0.4:
            return compact
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))

    def ipv4(self) -> str:
        r = self.r
        first = r.choice([x for x in (r.randint(1, 223),) if x not in (10, 127)] or [81])
        return f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def ipv6(self) -> str:
        r = self.r
        groups = [f"{r.randint(0x2001, 0x2A0F):x}"] + [
            f"{r.choice([0, 0, r.randint(0, 0xFFFF)]):x}" for _ in range(7)
        ]
        addr = ipaddress.IPv6Address(":".join(groups))
        return addr.compressed if r.random() < 0.7 else addr.exploded

    # decoys ----------------------------------------------------------------------------
    def decoy(self) -> str:
        r = self.r
        kind = r.randrange(17)
        if kind == 0:
            return f"order ORD-{r.randint(2019, 2025)}-{self.digits(6)}"
        if kind == 1:
            return f"invoice INV-{self.digits(3)}-{self.digits(2)}-{self.digits(4)}"
        if kind == 2:
            return f"on {r.randint(2019, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        if kind == 3:
            return f"due {r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(2019, 2025)}"
        if kind == 4:
            return f"customer id {r.randint(100_000_000, 999_999_999)}"
        if kind == 5:
            return f"ref {r.randint(1_000_000_000, 9_999_999_999)}"
        if kind == 6:
            return (
                f"version {r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}.{r.randint(0, 99)}"
            )
        if kind == 7:
            return f"build v{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 30)}"
        if kind == 8:
            octets = [r.randint(256, 999)] + [r.randint(0, 255) for _ in range(3)]
            r.shuffle(octets)
            return "host " + ".".join(map(str, octets))
        if kind == 9:
            return "mac " + ":".join(f"{r.randint(0, 255):02X}" for _ in range(6))
        if kind == 10:
            return f"at {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        if kind == 11:
            return f"amount ${r.randint(1, 999)},{self.digits(3)}.{self.digits(2)}"
        if kind == 12:
            return f"image logo@{r.randint(2, 3)}x.png"
        if kind == 13:
            return "card " + self.card(valid=False)
        if kind == 14:
            return "account " + self.iban(valid=False)
        if kind == 15:
            area = r.choice([0, 666, r.randint(900, 999)])
            return f"tax id {area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
        return "sha " + "".join(r.choice("0123456789abcdef") for _ in range(40))


_PREFIX = {
    "email": ["email", "write to", "contact", "cc"],
    "phone": ["phone", "call", "mobile", "tel."],
    "ssn": ["ssn", "social security no", "SSN:"],
    "credit_card": ["card", "paid with", "visa"],
    "iban": ["IBAN", "transfer to", "account"],
    "ipv4": ["login from", "ip", "client"],
    "ipv6": ["login from", "ipv6", "client"],
}


def make_corpus(
    *, n_rows: int = 10_000, seed: int = 0, pii_share: float = 0.5, with_context: float = 0.5
) -> Corpus:
    """Generate labelled cells.

    Args:
        n_rows: Number of cells.
        seed: Seed; the same seed gives the same corpus.
        pii_share: Probability that a cell holds one entity (else it holds only decoys).
        with_context: Probability that an entity follows a context word ("call", "IBAN").

    Returns:
        The corpus.
    """
    g = _Gen(seed)
    r = g.r
    makers = {
        "email": g.email,
        "phone": g.phone,
        "ssn": g.ssn,
        "credit_card": g.card,
        "iban": g.iban,
        "ipv4": g.ipv4,
        "ipv6": g.ipv6,
    }
    texts: list[str] = []
    spans: list[Span] = []
    for row in range(n_rows):
        parts = [r.choice(_FILLER).capitalize()]
        for _ in range(r.randint(1, 2)):
            parts.append(g.decoy())
        text = ", ".join(parts)
        if r.random() < pii_share:
            entity = r.choice(BENCH_ENTITIES)
            value = makers[entity]()
            lead = (r.choice(_PREFIX[entity]) + " ") if r.random() < with_context else "note "
            text += "; " + lead
            spans.append(Span(row, len(text), len(text) + len(value), entity))
            text += value
            if r.random() < 0.5:
                text += ", " + g.decoy()
        texts.append(text + ".")
    return Corpus(texts=texts, spans=spans)


def score(
    corpus: Corpus, predicted: list[Span], entities: tuple[str, ...] = BENCH_ENTITIES
) -> dict[str, dict[str, float]]:
    """Precision and recall per entity type by span overlap.

    A prediction is a true positive when it overlaps a labelled span of the same type in the same
    cell (each labelled span is matched once); any other prediction of that type is a false
    positive; a labelled span without a prediction is a false negative.

    Args:
        corpus: The labelled corpus.
        predicted: Predicted spans.
        entities: Entity types to score.

    Returns:
        ``{entity: {"tp", "fp", "fn", "precision", "recall"}}``.
    """
    truth: dict[tuple[int, str], list[Span]] = {}
    for s in corpus.spans:
        truth.setdefault((s.row, s.entity), []).append(s)
    out: dict[str, dict[str, float]] = {e: {"tp": 0, "fp": 0, "fn": 0} for e in entities}
    matched: set[Span] = set()
    for p in predicted:
        if p.entity not in out:
            continue
        hit = next(
            (
                t
                for t in truth.get((p.row, p.entity), [])
                if t not in matched and p.start < t.end and t.start < p.end
            ),
            None,
        )
        if hit is None:
            out[p.entity]["fp"] += 1
        else:
            matched.add(hit)
            out[p.entity]["tp"] += 1
    for s in corpus.spans:
        if s.entity in out and s not in matched:
            out[s.entity]["fn"] += 1
    for d in out.values():
        d["precision"] = d["tp"] / (d["tp"] + d["fp"]) if d["tp"] + d["fp"] else 1.0
        d["recall"] = d["tp"] / (d["tp"] + d["fn"]) if d["tp"] + d["fn"] else 1.0
    return out
