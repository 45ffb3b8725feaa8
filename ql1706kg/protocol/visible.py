"""One rule for putting text that came from input or a protocol folder (ids, file names, values,
free text, criterion ids and texts) on a
terminal, in a text report, in an error line or in the HTML report: a control character is
never printed raw, so an id holding ``"\\n  Verdict: ELIGIBLE"`` cannot forge a line.

The rule: every character of Unicode category Cc (C0 controls, DEL, C1 controls), the line
and paragraph separators U+2028 and U+2029, and the bidirectional formatting characters
(U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, which can reorder what a reader sees)
is written as a Python-style escape: ``\\n``, ``\\r`` and ``\\t`` as a backslash and a letter,
others as ``\\xNN`` or ``\\uNNNN``. Everything else, backslashes included, is left as it is.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _escape(code: int) -> str:
    char = chr(code)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_TABLE = {code: _escape(code) for code in
          [*(c for c in range(0x100) if unicodedata.category(chr(c)) == "Cc"),
           0x2028, 0x2029, *_BIDI]}
# Surrogates (from undecodable file names, os.fsdecode's surrogateescape) cannot be encoded
# on a terminal either; they are shown the same way.
_TABLE.update({code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)})


def visible(text: object) -> str:
    """``text`` with every control character written as an escape (see the module's rule)."""
    return str(text).translate(_TABLE)


def has_controls(text: str) -> bool:
    """Whether :func:`visible` would change ``text``."""
    return visible(text) != text

