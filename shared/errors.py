"""The one exception type a person is meant to read.

Every failure caused by input (a missing column, an unreadable model, a bad policy key) is raised
as :class:`GateInputError` with a one-line message saying what was wrong, where, and what to do.
Gates catch it, and any other exception, and turn it into a GateResult with status ``error``.
"""

from __future__ import annotations


class GateInputError(ValueError):
    """Input that a gate cannot evaluate; the message is shown to the user as is."""

    def __init__(self, message: str) -> None:
        # One line: the message ends up in a scorecard cell, a CLI line and a KFP log line.
        super().__init__(" ".join(str(message).split()))


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
    text = " ".join(str(exc).split()) or "no message"
    if len(text) > 400:
        text = text[:397] + "..."
    return f"unexpected {type(exc).__name__}: {text}"
