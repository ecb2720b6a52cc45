"""Wording of bad input and failures: "did you mean" for a misspelled key or name, and an
exception as one line."""

from __future__ import annotations

import difflib
from typing import Iterable

MAX_WORD = 100  # a longer "name" is not a typo of a short one (and difflib's cost grows with it)


def did_you_mean(word, choices: Iterable) -> str:
    """' (did you mean 'optimizer'?)' for the choice closest to `word`, or '' when none is close.

    Case is ignored (`DCGAN` -> 'dcgan'); `_` and `-` count as the near misses they are
    (`wgan_gp` -> 'wgan-gp', `batchsize` -> 'batch_size').
    """
    if not isinstance(word, str) or not word or len(word) > MAX_WORD:
        return ""
    by_lower = {c.lower(): c for c in choices if isinstance(c, str)}
    if word in by_lower.values():  # the word is a choice (a message about something else)
        return ""
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def first_line(e: BaseException) -> str:
    """An exception's message as its first line, or its type's name when it has none."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def last_line(e: BaseException) -> str:
    """The last non-blank line of an exception's message (torchvision's download error lists
    each mirror it tried; the last line is the cause), or its type's name."""
    text = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    return text[-1] if text else type(e).__name__


def error_line(e: BaseException) -> str:
    """An exception as one line, "Type: first line of its message", for a record or a warning."""
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
