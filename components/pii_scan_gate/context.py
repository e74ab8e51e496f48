"""Context: words near a match and column names that lift or lower a detector's confidence.

As in the established tools (Presidio's context enhancement), a phone-shaped number next to
"call" is likelier a phone, a dotted quad after "version" is likelier a version string. Column
names are the strongest context a table has: a column named ``dob`` turns dates into dates of birth,
a column named ``full_name`` turns capitalised words into person names.
"""

from __future__ import annotations

import re

from quality_gates.components.pii_scan_gate.policy import ALL_ENTITIES

# Every entity type, in the order of the detectors' entity codes: the policy's list.
ENTITIES = ALL_ENTITIES

# Words in the window before a match that make the entity likelier (lift) or unlikelier (lower).
# Regexes over the lower-cased window; RE2 syntax (pyarrow), word-bounded.
LIFT: dict[str, str] = {
    "phone": (
        r"\b(?:phone|tel|telephone|mobile|cell|call|fax|contact|reach|whatsapp|sms"
        r"|telefon|telefoon|telefono|handy|gsm|mob|movil|portable)\b"
    ),
    "ssn": (
        r"\b(?:ssn|social security|social sec|ss#|ss no|taxpayer|tin|tax id|tax[ _-]?id|taxid"
        r"|tax identification|tax number|tax no)\b"
    ),
    "credit_card": r"\b(?:card|visa|mastercard|amex|credit|debit|cc|pan)\b",
    "iban": r"\b(?:iban|account|bank|transfer|sepa)\b",
    "ipv4": r"\b(?:ip|address|host|client|from|src|dst|login)\b",
    "ipv6": r"\b(?:ip|ipv6|address|host|client|from)\b",
    "email": r"\b(?:e-?mail|mail|contact|reply)\b",
    "date_of_birth": r"\b(?:born|dob|d\.o\.b|birth|birthday|birthdate|date of birth)\b",
}
LOWER: dict[str, str] = {
    "ipv4": r"(?:\b(?:version|ver|release|build|firmware|v|rev|semver|oid)\b\W*$)",
    "phone": (
        r"\b(?:order|invoice|ref|reference|ticket|tracking|sku|isbn|part|customer|client|account"
        r"|acct|id|member|policy|contract|case|serial|ean|gtin|upc|kunden|konto)\b"
        r"\W*(?:no\.?|nr\.?|number|#|id)?\W*$"
    ),
    "credit_card": (
        r"\b(?:order|invoice|tracking|ticket|isbn|serial|ean|gtin|upc|barcode)\b\W*(?:no\.?|#)?\W*$"
    ),
}
LIFT_BY = 0.15
LOWER_BY = 0.5
WINDOW = 40  # characters before a match that count as its context

# Column-name hints: a column name (split into words on _ - . space and camelCase) containing one
# of these words suggests the entity. Matched on whole words so that "username" is not "name" and
# "address_verified" still is "address" (the flag itself is filtered by the content check).
_HINT_WORDS: dict[str, tuple[str, ...]] = {
    "email": ("email", "e_mail", "mail", "emailaddress"),
    "phone": ("phone", "telephone", "tel", "mobile", "cell", "fax", "msisdn", "phonenumber"),
    # US tax ids: an SSN is the individual taxpayer's TIN ("tin", "taxpayer_id", "tax_id").
    "ssn": (
        "ssn",
        "social_security",
        "socialsecurity",
        "sin",
        "nino",
        "tin",
        "taxpayer",
        "taxid",
        "tax_id",
        "tax_number",
        "tax_no",
        "tax_identification",
        "taxpayerid",
    ),
    "credit_card": ("card", "pan", "cc", "creditcard", "ccnum", "cardnumber"),
    "iban": ("iban", "bank_account", "account_number", "bic"),
    "ipv4": ("ip", "ipv4", "ip_address", "ipaddress", "client_ip", "remote_addr"),
    "ipv6": ("ipv6",),
    "date_of_birth": ("dob", "birth", "birthday", "birthdate", "date_of_birth", "born"),
    "person_name": (
        "name",
        "fullname",
        "full_name",
        "first_name",
        "firstname",
        "last_name",
        "lastname",
        "surname",
        "given_name",
        "family_name",
        "forename",
        "patient",
        "customer_name",
        "contact_name",
    ),
    "address": (
        "address",
        "addr",
        "street",
        "street_address",
        "address_line",
        "postal_address",
        "mailing_address",
        "home_address",
        "residence",
    ),
}
# Column-name words that make number-shaped cells something else: an EAN-13 starting with 4 is
# Luhn-valid one time in ten and then reads as a 13-digit Visa number.
_LOWER_WORDS: dict[str, tuple[str, ...]] = {
    "credit_card": ("ean", "gtin", "upc", "isbn", "barcode", "sku", "serial"),
    "phone": ("ean", "gtin", "upc", "isbn", "barcode", "sku", "serial"),
}
# Words that make a "name" column something other than a person's name.
_NOT_PERSON = frozenset(
    {"file", "filename", "host", "hostname", "user", "username", "model", "column", "feature",
     "product", "company", "brand", "region", "city", "country", "street", "bank", "event",
     "domain", "table", "field", "metric", "app", "service", "class", "label"}
)  # fmt: skip
_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])")


def name_words(column: str) -> list[str]:
    """Split a column name into lower-case words (``customerEmail_2`` → customer, email, 2)."""
    return [w.lower() for w in _SPLIT.split(str(column)) if w]


def column_hints(column: str) -> set[str]:
    """Entity types a column name suggests.

    Args:
        column: The column name.

    Returns:
        Entity types whose hint words appear in the name (whole words, or the joined name).
    """
    words = name_words(column)
    joined = "_".join(words)
    compact = "".join(words)
    found: set[str] = set()
    for entity, hints in _HINT_WORDS.items():
        for hint in hints:
            if "_" in hint:
                # From the start of a word ("customer_tax_id" yes, "syntax_id" no).
                if f"_{hint}" in f"_{joined}" or hint.replace("_", "") == compact:
                    found.add(entity)
            elif hint in words or hint == compact:
                found.add(entity)
    if "person_name" in found and _NOT_PERSON.intersection(words):
        found.discard("person_name")
    return found


def column_lowers(column: str) -> set[str]:
    """Entity types a column name argues against (``ean``: not card numbers, not phones).

    Args:
        column: The column name.

    Returns:
        Entity types whose findings in this column lose ``LOWER_BY`` confidence.
    """
    words = set(name_words(column))
    return {entity for entity, lows in _LOWER_WORDS.items() if words.intersection(lows)}
