"""Standard output of the CLI that survives a reader closing the pipe (``| head``, ``| true``).

A verdict or an approval that already happened must keep its exit code when nobody reads the
rest of what the command prints; a ``BrokenPipeError`` would otherwise turn it into exit 2.
"""

from __future__ import annotations

import os
import sys


def out(text: str) -> None:
    """Print one block of text to stdout, ignoring a reader that has gone away.

    Args:
        text: What to print (a newline is added).
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Python's documented recipe: point stdout at devnull so the exit flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
