"""Masking: the only way a found value leaves the scanner.

Each entity type keeps just enough to recognise a finding and nothing that identifies a person:
``j***@e***.com`` for an e-mail, the last four digits of a card (as PCI DSS allows), the country
of an IBAN and its last four characters, the first octet of an IP address, the last two digits of
a phone number, nothing of an SSN or a date of birth (the last four digits of an SSN are
themselves used to authenticate people), the initials of a name. Masking is applied to a handful
of examples per column, so it is plain Python.
"""

from __future__ import annotations

import re

_DIGIT = re.compile(r"\d")
_ALNUM = re.compile(r"[A-Za-z0-9]")


def _stars(text: str, keep_last: int = 0, pattern: re.Pattern[str] = _DIGIT) -> str:
    positions = [m.start() for m in pattern.finditer(text)]
    hide = set(positions[: max(0, len(positions) - keep_last)])
    return "".join("*" if i in hide else ch for i, ch in enumerate(text))


def _email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def _iban(value: str) -> str:
    compact = value.replace(" ", "").replace("-", "")
    return f"{compact[:2]}** **** {compact[-4:]}" if len(compact) > 8 else "****"


def mask(entity: str, value: str) -> str:
    """Mask one found value.

    Args:
        entity: Entity type of the finding.
        value: The raw value (never stored; only the return value is).

    Returns:
        A masked rendering that keeps the shape but not the identity.
    """
    value = str(value)
    if entity == "email":
        return _email(value)
    if entity == "credit_card":
        return _stars(value, keep_last=4)
    if entity == "phone":
        return _stars(value, keep_last=2)
    if entity == "ssn":
        return _stars(value)
    if entity == "iban":
        from quality_gates.components.pii_scan_gate.validators import IBAN_LENGTHS

        compact = value.replace(" ", "").replace("-", "")
        want = IBAN_LENGTHS.get(compact[:2])
        return _iban(compact[:want] if want else compact)
    if entity == "ipv4":
        first, _, rest = value.partition(".")
        return first + "." + re.sub(r"\d+", "***", rest)
    if entity == "ipv6":
        first, _, _ = value.partition(":")
        return f"{first}:****:…"
    if entity == "person_name":
        return " ".join(w[:1] + "***" for w in value.split())
    if entity == "date_of_birth":
        return _stars(value)
    # Addresses and anything else: the shape only.
    return _stars(value, pattern=_ALNUM)
