"""Text bound for a terminal, made safe to show.

Messages quote what users and files give: paths, YAML keys, option values. A control
character there could move the cursor, retitle the window or hide the rest of the line
(an escape sequence in a routine's key, shown by ``check``); a bidi override could show
the text in another order than it is; a file name that is not UTF-8 cannot be encoded
for the terminal at all. :func:`shown` turns each of those into a visible escape, so
one message is always one honest line.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories shown as escapes: controls, invisible format marks (bidi
#: overrides, zero-width characters), lone surrogates, and line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Python keeps the bytes of a name that is not UTF-8 as these lone surrogates.
_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def shown(text: str) -> str:
    """``text`` with every control, format mark, separator and undecodable byte written
    as a visible escape (``\\x1b``, ``\\u202e``, ``\\xff`` for a byte that is not UTF-8).

    Letters of every script, and emoji, are kept; the result is one line.
    """
    if text.isprintable():  # the common case, and isprintable() is fast
        return text
    pieces = []
    for char in text:
        code = ord(char)
        if char == " " or unicodedata.category(char) not in _HIDDEN:
            pieces.append(char)
        elif code in _ESCAPED_BYTES:
            pieces.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x100:
            pieces.append(f"\\x{code:02x}")
        else:
            pieces.append(f"\\u{code:04x}")
    return "".join(pieces)


def has_hidden(text: str) -> bool:
    """Whether :func:`shown` would change ``text``: a control character, a format mark,
    a separator or a byte that is not UTF-8."""
    return shown(text) != text
