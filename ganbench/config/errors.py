"""How a bad value is reported: ConfigError names its dotted key; values are quoted short."""

from __future__ import annotations

import reprlib


class ConfigError(ValueError):
    """An invalid value; ``key`` is the dotted path of the offending key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{one_line(key)}: {message}" if key else message)
        self.key = key
        self.message = message


# A user's value quoted in a message: a repr (quotes, escaped newlines), cut short, since
# a value can be megabytes long and the message must stay one short line.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 6
_REPR.maxdict = 4
_REPR.maxlevel = 3
shown = _REPR.repr


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line (control characters escaped: a YAML key may hold a newline),
    cut to about `limit` characters."""
    text = str(text)
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return out[:limit] + "..." if len(text) > limit or len(out) > limit else out
