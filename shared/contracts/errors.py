"""The one exception type a person is meant to read.

Every failure caused by input (a missing column, an unreadable model, a bad policy key) is raised
as :class:`GateInputError` with a one-line message saying what was wrong, where, and what to do.
Gates catch it, and any other exception, and turn it into a GateResult with status ``error``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Credentials written into a URI: "https://user:secret@host", "...?token=abc&sig=...". Every
# message names the URI it was given, and messages reach scorecards, MLflow tags, audit records
# and logs; only the credential is withheld, so the reader still sees which server was meant.
_URI_USERINFO_RE = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@]+@")
_SECRET_QUERY_RE = re.compile(
    r"([?&](?:access_token|token|password|passwd|pwd|secret|api_key|apikey|key|sig|signature|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s#]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Withhold credentials written into URIs in a text (user info, secret query parameters).

    Args:
        text: A message that may quote URIs.

    Returns:
        The text with ``user:password@`` replaced by ``***@`` and the values of query
        parameters such as ``token`` or ``X-Amz-Signature`` by ``***``.
    """
    text = _URI_USERINFO_RE.sub(r"\1***@", text)
    return _SECRET_QUERY_RE.sub(r"\1***", text)


class GateInputError(ValueError):
    """Input that a gate cannot evaluate; the message is shown to the user as is."""

    def __init__(self, message: str) -> None:
        # One line: the message ends up in a scorecard cell, a CLI line and a KFP log line;
        # never a credential (a tracking URI may carry a password).
        super().__init__(redact(" ".join(str(message).split())))


def one_line(exc: BaseException, *, mask: bool = False) -> str:
    """Return a single-line, human-readable description of an exception.

    Args:
        exc: Any exception.
        mask: Withhold the literals a library message quotes (see :func:`mask_values`); set
            where the exception may be about data, e.g. a gate's evaluation.

    Returns:
        The message of a :class:`GateInputError` as is; for anything else the exception type and
        its first line, prefixed so a reader knows it is unexpected.
    """
    if isinstance(exc, GateInputError):
        return str(exc)
    text = redact(" ".join(str(exc).split()))
    text = (mask_values(text) if mask else text) or "no message"
    if len(text) > 400:
        text = text[:397] + "..."
    return f"unexpected {type(exc).__name__}: {text}"


# Library messages about data quote the cells they choke on: "could not convert string to float:
# 'Jane Doe'", "Found unknown categories ['jane@x.com']", pyarrow's "Expected 3 columns, got 4:
# <the row>". A cell may be personal data and no gate output may carry one, so every literal such
# a message quotes is withheld (the caller names the column instead, see models._suspect_column).
WITHHELD = "<value withheld>"
_QUOTED_RE = re.compile(r"""(?<![\w'"])(['"])(.*?)\1(?![\w'"])""")
_BRACKETED_RE = re.compile(r"\[(?!Errno \d+\])[^\[\]]*\]|\{[^{}]*\}")
# Phrases after which a library writes the offending value unquoted, up to the end of the clause.
_UNQUOTED_AFTER_RE = re.compile(
    r"((?:got \d+|unable to parse|could not convert string to float|invalid literal for "
    r"int\(\) with base \d+|previously unseen labels?|out of bounds nanosecond timestamp)"
    r"\s*:\s*)(?![\s<\['\"])[^;]+",
    re.IGNORECASE,
)


def mask_values(text: str, *, keep: Iterable[str] = ()) -> str:
    """Withhold the data values a library message may quote.

    Quoted literals (``'...'``, ``"..."``), bracketed lists and sets, and the unquoted remainder
    of conversion errors ("... got 4: <row>", "unable to parse: <cell>") are replaced by a mask,
    so the message keeps its shape ("Found unknown categories [<values withheld>] in column 1")
    but no cell.

    Args:
        text: A message, typically ``str(exc)`` of a pandas, numpy, pyarrow or sklearn error.
        keep: Literals that are known not to be data (column names) and stay readable.

    Returns:
        The masked text.
    """
    kept = {str(k) for k in keep}

    def _quoted(m: re.Match[str]) -> str:
        return m.group(0) if m.group(2) in kept else f"{m.group(1)}{WITHHELD}{m.group(1)}"

    def _bracketed(m: re.Match[str]) -> str:
        inner = m.group(0)[1:-1].strip()
        names = [part.strip().strip("'\"") for part in inner.split(",")]
        if inner and all(n in kept for n in names):
            return m.group(0)
        return m.group(0)[0] + "<values withheld>" + m.group(0)[-1]

    text = _UNQUOTED_AFTER_RE.sub(lambda m: m.group(1) + WITHHELD, text)
    text = _BRACKETED_RE.sub(_bracketed, text)
    return _QUOTED_RE.sub(_quoted, text)


def describe(exc: BaseException, *, mask: bool = True, keep: Iterable[str] = ()) -> str:
    """Return ``Type: first words of the message``, one line, bounded, cells withheld.

    Args:
        exc: The exception that caused a failure (quoted inside a longer message).
        mask: Withhold quoted literals (:func:`mask_values`); turn off only for exceptions that
            cannot be about data (e.g. unpickling a model file, whose messages name classes).
        keep: Literals that stay readable when masking (column names).

    Returns:
        The exception's type and message on one line, at most ~200 characters; a quoted cell
        value is replaced by ``<value withheld>``.
    """
    text = redact(" ".join(str(exc).split()))
    if mask:
        text = mask_values(text, keep=keep)
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def missing_module_hint(exc: BaseException) -> str:
    """Describe an exception, naming the module to install when one is missing.

    Args:
        exc: The exception raised while loading or running something.

    Returns:
        A one-line cause for a message.
    """
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return (
            f"it needs the Python module '{exc.name}', which is not installed here; install it "
            "in the gate's image"
        )
    return describe(exc)
