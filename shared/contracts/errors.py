"""The one exception type a person is meant to read.

Every failure caused by input (a missing column, an unreadable model, a bad policy key) is raised
as :class:`GateInputError` with a one-line message saying what was wrong, where, and what to do.
Gates catch it, and any other exception, and turn it into a GateResult with status ``error``.
"""

from __future__ import annotations

import re

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


def one_line(exc: BaseException) -> str:
    """Return a single-line, human-readable description of an exception.

    Args:
        exc: Any exception.

    Returns:
        The message of a :class:`GateInputError` as is; for anything else the exception type and
        its first line, prefixed so a reader knows it is unexpected.
    """
    if isinstance(exc, GateInputError):
        return str(exc)
    text = redact(" ".join(str(exc).split())) or "no message"
    if len(text) > 400:
        text = text[:397] + "..."
    return f"unexpected {type(exc).__name__}: {text}"


# Conversion errors quote the cell that failed; a cell may be personal data, and no gate output
# may carry a raw value (the row is named instead, see models._suspect_column).
_QUOTED_VALUE_RE = re.compile(
    r"((?:could not convert string to float|invalid literal for int\(\) with base \d+|"
    r"Unable to parse string|could not convert [\w ]+? to [\w ]+?)\s*:?\s*)(['\"]).*?\2",
    re.IGNORECASE,
)


def describe(exc: BaseException) -> str:
    """Return ``Type: first words of the message``, one line, bounded, cells withheld.

    Args:
        exc: The exception that caused a failure (quoted inside a longer message).

    Returns:
        The exception's type and message on one line, at most ~200 characters; a quoted cell
        value of a conversion error is replaced by ``<value withheld>``.
    """
    text = redact(_QUOTED_VALUE_RE.sub(r"\1<value withheld>", " ".join(str(exc).split())))
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
