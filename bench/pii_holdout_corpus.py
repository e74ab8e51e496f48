"""A second corpus the detectors were not written against: public format specs, not Faker.

``pii_unseen_corpus.py`` takes its values from Faker. This one builds them by hand from the
public specifications, with ``mimesis`` (not Faker) for the surrounding text, names and e-mail
addresses, so a quirk shared by Faker and the detectors cannot hide a miss:

* phone: national significant numbers of the ITU-T E.164 plans of US, GB, DE and FR (drawn from
  each plan's example numbers per number type, the trailing digits randomised, kept when
  ``phonenumbers.is_valid_number`` accepts them), written in the forms people write:
  ``+44 20 7946 0958``, ``+44 (0)20 ...``, ``0044 20 ...``, ``44 20 ...`` (calling code without
  "+"), ``020 7946 0958``, ``(020) 7946 0958``, ``030/1234567``, ``01.23.45.67.89``,
  ``(415) 555-0132``, ``415.555.0132``, ``1-415-555-0132``, E.164 without spaces;
* ssn: the SSA's rules (area 001-899 but 666, group 01-99, serial 0001-9999), dashed, spaced,
  dotted, or as 9 bare digits after a label or in a tax-id column (``tin``, ``taxpayer_id``...);
* credit_card: issuer ranges (Visa, Mastercard 51-55 and 2221-2720, Amex, Discover, JCB
  3528-3589, Diners, UnionPay, Maestro) with the Luhn check digit, compact or grouped;
* iban: BBAN structures of the ISO 13616 registry for 20 countries, check digits by ISO 7064
  mod 97-10, compact, in groups of four with spaces or with dashes;
* ipv4 / ipv6: unicast IPv4 (with a port, a CIDR suffix); IPv6 in RFC 4291 / RFC 5952 forms:
  full, compressed, upper case, embedded IPv4 (``::ffff:81.2.69.160``, ``64:ff9b::...``),
  link-local with a zone id (``fe80::...%eth0``), in brackets with a port, with a prefix length;
* email: mimesis addresses, with tags, sub-domains and punycode domains.

Entities sit in sentence templates with labels before them (``Visa``, ``Card:``, ``SSN#``,
``Tel.``, ``IBAN:`` ...), punctuation after them (``. ) ; : ! ? , "``), and another digit group
after them (an expiry date, a CVV, a second number). Hard decoys around them: labelled EAN-13,
ISBN, IMEI (Luhn-valid 15 digits), UUIDs, order ids, dates, amounts, version strings,
postcodes, card-shaped numbers with a wrong Luhn digit, IBANs with wrong check digits, SSN
shapes with an invalid area, clock times, MAC addresses, NANP-shaped numbers with an invalid
area code.

Ground truth comes from checks that are not the detectors': ``python-stdnum`` (``luhn``,
``iban``, ``us.ssn``), ``phonenumbers.is_valid_number`` on the generated number, ``ipaddress``
(IPv6: not loopback or unspecified; link-local only with an interface id above 0xffff, i.e.
derived from a MAC or random; IPv4-mapped by the IPv4 rule; IPv4: not 0/8, 127/8 or the
broadcast address). A generated value that fails its check is ignored (neither a hit nor a
false positive). Scoring as in ``pii_unseen_corpus.py`` (span overlap per type, confidence
>= 0.5, structured columns scanned with their column-name hints).

    python bench/pii_holdout_corpus.py [--rows 20000] [--seed 2] [--show 20]

Needs the bench-only packages ``mimesis`` and ``python-stdnum`` (not dependencies of the gate).
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_unseen_corpus import ENTITIES, Labelled, score  # noqa: E402

REGIONS = ("US", "GB", "DE", "FR")

# ISO 13616 registry: BBAN structure per country (n digits, a upper-case letters, c alphanumerics).
BBAN = {
    "AT": "5n11n",
    "BE": "3n7n2n",
    "CH": "5n12c",
    "CZ": "4n6n10n",
    "DE": "8n10n",
    "DK": "4n9n1n",
    "ES": "4n4n1n1n10n",
    "FI": "3n11n",
    "FR": "5n5n11c2n",
    "GB": "4a6n8n",
    "IE": "4a6n8n",
    "IT": "1a5n5n12c",
    "LU": "3n13c",
    "MT": "4a5n18c",
    "NL": "4a10n",
    "NO": "4n6n1n",
    "PL": "8n16n",
    "PT": "4n4n11n2n",
    "SA": "2n18c",
    "SE": "3n16n1n",
}
CARD_RANGES = (  # (prefixes, lengths) per issuer
    (("4",), (13, 16, 19)),
    (tuple(str(p) for p in range(51, 56)) + ("2221", "2500", "2720"), (16,)),
    (("34", "37"), (15,)),
    (("6011", "644", "649", "65"), (16, 19)),
    (("3528", "3550", "3589"), (16, 19)),
    (("300", "305", "36", "38"), (14,)),
    (("62",), (16, 19)),
    (("5018", "5020", "5038", "6304", "6759", "6761"), (12, 16, 19)),
)
LABELS = {
    "email": ["", "E-mail:", "email", "mailto:", "Contact:", "Mail:", "reply to"],
    "phone": ["", "Tel.", "Tel:", "Phone:", "phone", "Ph.", "Mobile:", "Fax:", "call", "Telefon"],
    "ssn": ["", "SSN", "SSN:", "SSN#", "SSN #", "Social Security No.", "TIN:", "Tax ID"],
    "credit_card": ["", "Visa", "VISA", "Card:", "card no.", "CC#", "Mastercard", "AMEX", "PAN:"],
    "iban": ["", "IBAN", "IBAN:", "IBAN#", "account", "Konto:", "to"],
    "ipv4": ["", "IP", "IP:", "from", "host", "src=", "client"],
    "ipv6": ["", "IPv6", "IPv6:", "from", "host", "addr=", "via"],
}
BARE_LABELS = {"ssn": ["SSN", "SSN:", "SSN#", "ssn no.", "TIN:", "tax id"]}
AFTER = [".", ")", ";", ":", "!", "?", '"', "'", ",", "]", "", " and more", ". Thanks"]


# --------------------------------------------------------------------------------------------
# Ground truth


def truth(entity: str, value: str) -> bool:
    """Whether a generated value is real PII of its type, by a check that is not the detectors'."""
    if entity == "ssn":
        from stdnum.us import ssn

        return bool(ssn.is_valid("".join(c for c in value if c.isdigit())))
    if entity == "credit_card":
        from stdnum import luhn

        digits = "".join(c for c in value if c.isdigit())
        return 12 <= len(digits) <= 19 and bool(luhn.is_valid(digits))
    if entity == "iban":
        from stdnum import iban

        return bool(iban.is_valid(value.replace("-", "")))
    if entity in ("ipv4", "ipv6"):
        text = value.split("%")[0]
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address):
            if addr.ipv4_mapped is not None:
                addr = addr.ipv4_mapped
            else:
                if addr.is_loopback or addr.is_unspecified:
                    return False
                if addr.is_link_local:
                    return (int(addr) & (2**64 - 1)) > 0xFFFF
                return True
        first = int(addr) >> 24
        return first not in (0, 127) and int(addr) != 0xFFFFFFFF
    return True


# --------------------------------------------------------------------------------------------
# Values from the specifications


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled: the check digit will sit right of it
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def _iban_check(country: str, bban: str) -> str:
    moved = bban + country + "00"
    num = int("".join(str(int(ch, 36)) for ch in moved))
    return f"{98 - num % 97:02d}"


class Gen:
    """Entity values, decoys and text from one seed."""

    def __init__(self, seed: int) -> None:
        from mimesis import Internet, Person, Text
        from mimesis.locales import Locale

        self.r = random.Random(seed)
        locs = (Locale.EN, Locale.DE, Locale.FR, Locale.ES, Locale.NL)
        self.texts = [Text(loc, seed=seed + i) for i, loc in enumerate(locs)]
        self.people = [Person(loc, seed=seed + 10 + i) for i, loc in enumerate(locs)]
        self.net = Internet(seed=seed + 20)
        self._phone_pool: dict[str, list] = {}

    # -- phones
    def _phone_number(self, region: str):
        import phonenumbers
        from phonenumbers import PhoneNumberType as T

        types = [T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.FIXED_LINE_OR_MOBILE]
        for _ in range(200):
            ex = phonenumbers.example_number_for_type(region, self.r.choice(types))
            if ex is None:
                continue
            nsn = str(ex.national_number)
            k = self.r.randint(3, min(6, len(nsn) - 2))
            nsn = nsn[:-k] + "".join(self.r.choice(string.digits) for _ in range(k))
            num = phonenumbers.PhoneNumber(country_code=ex.country_code, national_number=int(nsn))
            if phonenumbers.is_valid_number(num):
                return num
        return None

    def phone(self) -> tuple[str, bool]:
        import phonenumbers
        from phonenumbers import PhoneNumberFormat as F

        region = self.r.choice(REGIONS)
        num = self._phone_number(region)
        if num is None:
            return "555-0100", False
        intl = phonenumbers.format_number(num, F.INTERNATIONAL)  # +44 20 7946 0958
        nat = phonenumbers.format_number(num, F.NATIONAL)  # 020 7946 0958 / (415) 555-0132
        e164 = phonenumbers.format_number(num, F.E164)
        cc = str(num.country_code)
        rest = intl[len(cc) + 2 :]  # after "+44 "
        r = self.r
        forms = [intl, e164, "00" + intl[1:], cc + " " + rest if cc != "1" else "1 " + rest]
        if region == "US":
            d = str(num.national_number)
            forms += [
                nat,
                f"{d[:3]}.{d[3:6]}.{d[6:]}",
                f"{d[:3]}-{d[3:6]}-{d[6:]}",
                f"1-{d[:3]}-{d[3:6]}-{d[6:]}",
                f"+1 ({d[:3]}) {d[3:6]}-{d[6:]}",
                f"1 ({d[:3]}) {d[3:6]}-{d[6:]}",
            ]
        else:
            groups = nat.split(" ")
            if groups[0] == "0":  # "0 801 23 35 17": the trunk 0 goes with the next group
                groups = [groups[0] + groups[1], *groups[2:]]
            forms += [
                nat,
                ".".join(groups) if len(groups) > 2 else nat,
                "-".join(groups),
                f"({groups[0]}) {' '.join(groups[1:])}",
                f"+{cc} (0){' '.join(groups)[1:]}",
            ]
            if region == "DE":
                forms.append(f"{groups[0]}/{''.join(groups[1:])}")
            if region == "FR":
                d = "0" + str(num.national_number)
                forms.append(".".join(d[i : i + 2] for i in range(0, 10, 2)))
        return r.choice(forms), True

    # -- ids
    def ssn(self) -> str:
        r = self.r
        area = r.choice([a for a in range(1, 900) if a != 666])
        value = f"{area:03d}{r.randint(1, 99):02d}{r.randint(1, 9999):04d}"
        return r.choice(
            [
                f"{value[:3]}-{value[3:5]}-{value[5:]}",
                f"{value[:3]}-{value[3:5]}-{value[5:]}",
                f"{value[:3]} {value[3:5]} {value[5:]}",
                f"{value[:3]}.{value[3:5]}.{value[5:]}",
            ]
        )

    def ssn_bare(self) -> str:
        return self.ssn().replace("-", "").replace(" ", "").replace(".", "")

    def card(self, *, valid: bool = True) -> str:
        r = self.r
        prefixes, lengths = r.choice(CARD_RANGES)
        p, n = r.choice(prefixes), r.choice(lengths)
        body = p + "".join(r.choice(string.digits) for _ in range(n - len(p) - 1))
        check = _luhn_digit(body)
        if not valid:
            check = str((int(check) + r.randint(1, 9)) % 10)
        number = body + check
        style = r.random()
        if style < 0.4:
            return number
        if n == 15 and p in ("34", "37") and style < 0.7:
            return f"{number[:4]} {number[4:10]} {number[10:]}"
        sep = " " if style < 0.8 else "-"
        return sep.join(number[i : i + 4] for i in range(0, n, 4))

    def iban(self, *, valid: bool = True) -> str:
        r = self.r
        country = r.choice(list(BBAN))
        spec, bban = BBAN[country], ""
        i = 0
        while i < len(spec):
            j = i
            while spec[j].isdigit():
                j += 1
            count, kind = int(spec[i:j]), spec[j]
            pool = {
                "n": string.digits,
                "a": string.ascii_uppercase,
                "c": string.digits + string.ascii_uppercase,
            }[kind]
            bban += "".join(r.choice(pool) for _ in range(count))
            i = j + 1
        check = _iban_check(country, bban)
        if not valid:
            check = f"{(int(check) + r.randint(1, 50)) % 97 + 2:02d}"
        compact = country + check + bban
        style = r.random()
        if style < 0.35:
            return compact
        groups = [compact[k : k + 4] for k in range(0, len(compact), 4)]
        return (" " if style < 0.8 else "-").join(groups)

    # -- network
    def ipv4(self) -> str:
        r = self.r
        while True:
            first = r.randint(1, 223)
            if first not in (10, 127, 169):
                break
        ip = f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        return ip

    def ipv6(self) -> tuple[str, str]:
        """(value as written, the address part for the truth check)."""
        r = self.r
        kind = r.randrange(8)
        groups = [r.randrange(0x10000) for _ in range(8)]
        if kind == 0:  # full form, leading zeros
            a = ipaddress.IPv6Address(":".join(f"{g:04x}" for g in groups))
            return a.exploded, a.exploded
        if kind == 1:  # zero run, RFC 5952 canonical
            k = r.randint(2, 5)
            at = r.randint(1, 7 - k)
            groups[at : at + k] = [0] * k
            groups[0] = 0x2001
            a = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups)).compressed
            return (a.upper() if r.random() < 0.2 else a), a
        if kind == 2:  # embedded IPv4
            v4 = self.ipv4()
            pre = r.choice(["::ffff:", "64:ff9b::", "2001:db8:1::", "::ffff:0:"])
            return pre + v4, pre + v4
        if kind == 3:  # link-local with a zone id, EUI-64 or random interface id
            iid = ":".join(f"{r.randrange(0x10000):x}" for _ in range(4))
            a = f"fe80::{iid}"
            return a + "%" + r.choice(["eth0", "en0", "wlan0", "2", "ens3"]), a
        if kind == 4:  # documentation prefix, short
            a = f"2001:db8::{r.randrange(1, 0x10000):x}:{r.randrange(0x10000):x}"
            return a, a
        a = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups)).compressed
        return a, a

    def decoy_kind(self, kind: int) -> str:
        """A decoy of one kind without its label (for decoy columns)."""
        text = self.decoy(kind)
        return text.split(" ", 1)[1] if " " in text else text

    # -- text
    def sentence(self) -> str:
        return self.r.choice(self.texts).sentence()

    def email(self) -> str:
        r = self.r
        e = r.choice(self.people).email()
        local, _, domain = e.partition("@")
        if r.random() < 0.2:
            local += "+" + r.choice(["news", "bills", "x1"])
        if r.random() < 0.15:
            domain = r.choice(["mail.", "eu.", "corp."]) + domain
        if r.random() < 0.1:
            domain = r.choice(["xn--80ak6aa92e.com", "xn--d1acufc.xn--p1ai", "xn--bcher-kva.de"])
        return f"{local}@{domain}"

    def decoy(self, kind: int | None = None) -> str:
        """A hard decoy with its label ("EAN 4006381333931"); ``kind`` picks one kind."""
        r = self.r
        kind = r.randrange(18) if kind is None else kind
        if kind == 0:
            body = "".join(r.choice(string.digits) for _ in range(12))
            odd = sum(int(c) for c in body[0::2]) + 3 * sum(int(c) for c in body[1::2])
            return f"EAN {body}{(10 - odd % 10) % 10}"
        if kind == 1:
            group, pub, title = r.randint(0, 9), r.randint(100, 999), r.randint(10000, 99999)
            return f"ISBN 978-{group}-{pub}-{title}-{r.randint(0, 9)}"
        if kind == 2:
            from mimesis import Code

            return f"IMEI {Code(seed=r.randrange(1 << 30)).imei()}"
        if kind == 3:
            return f"request {self.net.uuid() if hasattr(self.net, 'uuid') else _uuid(r)}"
        if kind == 4:
            return f"order ORD-{r.randint(2015, 2026)}-{r.randint(0, 999999):06d}"
        if kind == 5:
            d, m, y = r.randint(1, 28), r.randint(1, 12), r.randint(1950, 2030)
            return r.choice(
                [f"on {y}-{m:02d}-{d:02d}", f"on {d:02d}/{m:02d}/{y}", f"on {d:02d}.{m:02d}.{y}"]
            )
        if kind == 6:
            return r.choice(
                [
                    f"total ${r.randint(1, 999)},{r.randint(0, 999):03d}.{r.randint(0, 99):02d}",
                    f"total {r.randint(1, 999)}.{r.randint(0, 999):03d},{r.randint(0, 99):02d} €",
                ]
            )
        if kind == 7:
            return f"version {r.randint(0, 20)}.{r.randint(0, 40)}.{r.randint(0, 300)}"
        if kind == 8:
            return r.choice(
                [
                    f"ZIP {r.randint(10000, 99999)}-{r.randint(1000, 9999)}",
                    f"postcode {r.randint(1000, 99999)}",
                    "postcode SW1A 1AA",
                ]
            )
        if kind == 9:
            return f"ref {self.card(valid=False)}"
        if kind == 10:
            return f"account {self.iban(valid=False)}"
        if kind == 11:
            area = r.choice([0, 666, r.randint(900, 999)])
            return f"id {area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
        if kind == 12:
            return f"at {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        if kind == 13:
            return "mac " + ":".join(f"{r.randrange(256):02X}" for _ in range(6))
        if kind == 14:
            return f"ticket ({r.randint(100, 199)}) {r.randint(200, 999)}-{r.randint(0, 9999):04d}"
        if kind == 15:
            major, minor, patch = r.randint(1, 9), r.randint(0, 9), r.randint(0, 99)
            return f"build {major}.{minor}.{patch}.{r.randint(256, 9999)}"
        if kind == 16:
            return f"tracking 1Z{r.randint(100, 999)}AA{r.randint(10**9, 10**10 - 1)}"
        return f"sha {r.randbytes(16).hex()}"


def _uuid(r: random.Random) -> str:
    h = r.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --------------------------------------------------------------------------------------------
# The corpus


def _value(g: Gen, entity: str) -> tuple[str, str, bool]:
    """(text as written, text to check, whether generation succeeded)."""
    if entity == "email":
        e = g.email()
        return e, e, True
    if entity == "phone":
        p, ok = g.phone()
        return p, p, ok
    if entity == "ssn":
        s = g.ssn()
        return s, s, True
    if entity == "credit_card":
        c = g.card()
        return c, c, True
    if entity == "iban":
        i = g.iban()
        return i, i, True
    if entity == "ipv4":
        ip = g.ipv4()
        return ip, ip, True
    written, addr = g.ipv6()
    return written, addr, True


def _wrap(g: Gen, entity: str, value: str) -> tuple[str, str, str, str | None]:
    """(before, value, after, a second card right after it or None).

    A label, brackets or quotes, punctuation, a following digit group.
    """
    r = g.r
    label = r.choice(LABELS[entity])
    glue = [" ", " ", ""] if label.endswith((":", "#", ".", "=")) else [" "]
    before = label + r.choice(glue) if label else ""
    after = r.choice(AFTER)
    if entity in ("ipv4", "ipv6") and r.random() < 0.3:
        if entity == "ipv6":
            style = r.randrange(3)
            if style == 0:
                return before + "[", value, f"]:{r.randint(1, 65535)}" + after, None
            if style == 1 and "%" not in value:
                return before + "http://[", value, "]/path" + after, None
            return before, value, f"/{r.choice([48, 56, 64])}" + after, None
        port = r.choice([f":{r.randint(1, 65535)}", f"/{r.randint(8, 32)}"])
        return before, value, port + after, None
    roll = r.random()
    if roll < 0.15:
        return before + "(", value, ")" + after, None
    if roll < 0.25:
        return before + '"', value, '"' + after, None
    if entity == "credit_card" and roll < 0.3:
        return before, value, " ", g.card()
    if entity == "credit_card" and roll < 0.6:
        nxt = r.choice(
            [
                f" {r.randint(1, 12):02d}/{r.randint(25, 32)}",
                f" exp {r.randint(1, 12):02d}/{r.randint(25, 32)}",
                f" {r.randint(100, 9999)}",
                f" CVV {r.randint(100, 999)}",
            ]
        )
        return before, value, nxt + after, None
    if entity in ("ssn", "phone", "iban") and roll < 0.45:
        nxt = r.choice(
            [
                f" {r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1950, 2005)}",
                f" {r.randint(1, 999)}",
                f" {r.randint(2015, 2026)}",
            ]
        )
        return before, value, nxt + after, None
    return before, value, after, None


def _add(col: Labelled, row: int, start: int, value: str, entity: str, check: str) -> None:
    span = (row, start, start + len(value), entity)
    (col.spans if truth(entity, check) else col.ignored).append(span)


COLUMNS = {
    "email": ["email", "contact_email"],
    "phone": ["phone_number", "tel", "mobile"],
    "ssn": ["ssn", "tin", "taxpayer_id", "tax_id", "ssn_tin"],
    "credit_card": ["card_number", "pan", "cc_number"],
    "iban": ["iban", "bank_account"],
    "ipv4": ["ip_address", "client_ip"],
    "ipv6": ["ipv6", "remote_ipv6"],
}


def make_holdout(*, rows: int = 20_000, seed: int = 2) -> list[Labelled]:
    """Free-text cells, structured columns per entity type, and decoy columns.

    Args:
        rows: Free-text cells; each structured column has ``rows // 8`` cells.
        seed: Seed of every generator.

    Returns:
        ``[free_text, <entity columns>..., <decoy columns>...]``.
    """
    g = Gen(seed)
    r = g.r
    free = Labelled("free_text")
    for row in range(rows):
        text = g.sentence()
        for _ in range(r.randint(0, 2)):
            text += f" {g.decoy()}."
        for _ in range(r.choice([0, 1, 1, 1, 2])):
            entity = r.choice(ENTITIES)
            written, check, ok = _value(g, entity)
            if not ok:
                continue
            before, value, after, second = _wrap(g, entity, written)
            text += " " + r.choice(["", "Note: ", "See ", "-> "]) + before
            _add(free, row, len(text), value, entity, check)
            text += value + after
            if second is not None:
                _add(free, row, len(text), second, entity, second)
                text += second + r.choice(AFTER)
            if r.random() < 0.3:
                text += f" {g.decoy()}."
        free.texts.append(text)
    out = [free]
    n_col = max(rows // 8, 1)
    for entity, names in COLUMNS.items():
        for name in names:
            col = Labelled(name)
            for row in range(n_col // len(names) + 1):
                if entity == "ssn" and name != "ssn" and r.random() < 0.6:
                    written = check = g.ssn_bare()  # tax-id columns hold bare 9 digits
                    ok = True
                else:
                    written, check, ok = _value(g, entity)
                if not ok:
                    col.texts.append("")
                    continue
                _add(col, row, 0, written, entity, check)
                col.texts.append(written)
            out.append(col)
    decoys = {
        "ean": lambda: g.decoy_kind(0),
        "order_id": lambda: g.decoy_kind(4),
        "created": lambda: g.decoy_kind(5),
        "amount": lambda: g.decoy_kind(6),
        "version": lambda: g.decoy_kind(7),
        "postcode": lambda: g.decoy_kind(8),
        "request_id": lambda: _uuid(r),
        "customer_no": lambda: str(r.randint(100_000_000, 9_999_999_999)),
        "imei": lambda: g.decoy_kind(2),
    }
    for name, make in decoys.items():
        col = Labelled(name)
        col.texts = [make() for _ in range(n_col)]
        out.append(col)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--show", type=int, default=0, help="print this many misses (raw text)")
    parser.add_argument("--regions", default=",".join(REGIONS), help="the policy's phone_regions")
    args = parser.parse_args()
    t0 = time.perf_counter()
    cols = make_holdout(rows=args.rows, seed=args.seed)
    n_spans = sum(len(c.spans) for c in cols)
    n_ign = sum(len(c.ignored) for c in cols)
    print(
        f"holdout corpus (specs + mimesis, seed {args.seed}): {sum(len(c.texts) for c in cols)} "
        f"cells in {len(cols)} columns, {n_spans} labelled entities, {n_ign} ignored; built in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    regions = tuple(x.strip().upper() for x in args.regions.split(",") if x.strip())
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
