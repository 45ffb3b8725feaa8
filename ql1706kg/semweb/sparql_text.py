"""One reading of a SPARQL text for the gate and the engine: the query in a canonical form.

The gate checks a query with rdflib's parser and Oxigraph runs it; the two read a text by
different lexical rules (Oxigraph ends a comment at a carriage return, rdflib at a line feed
only; rdflib expands ``\\uXXXX`` escapes anywhere in the text, Oxigraph 0.5 only inside strings
and IRIs; keywords are matched by length in Oxigraph's grammar, by whole word in rdflib's). So
a text such as ``#comment\\r SERVICE <…>`` was a comment to the gate and a call to another
host for the engine.

Here the text is read once, by Oxigraph's lexical rules (spargebra 0.5, the parser of the
``oxigraph`` binary ``serve`` and ``query`` run), into tokens, and written again in a form
both parsers read alike: no comment, no escape sequence outside strings,
strings in one quoting with the same few escapes (``\\t \\n \\r \\b \\f \\" \\\\``), IRIs with
their escapes decoded; tokens that touch stay touching (Oxigraph's grammar reads
``COALESCE(`` but not ``COALESCE (``) and any run of spaces and comments becomes one line
break. The gate and ``query`` check *that* text and hand the engine exactly
that text, so what is checked is what runs. A text that cannot be read into tokens is refused
(400): nothing reaches the engine that was not read here.

Independently of any parser, a bare word holding ``SERVICE`` in any case, or a prefixed
name starting with it (``SERVICEx:y``, ``trueSERVICE``…: Oxigraph matches a keyword by its
length, so it may read one inside a longer word), refuses the query.
"""

from __future__ import annotations

import re

# Oxigraph's terminals (lib/spargebra/src/parser.rs, 0.5).
_PN_CHARS_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
                  "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf"
                  "\ufdf0-\ufffd\U00010000-\U000effff")
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = rf"[{_PN_CHARS_BASE}][{_PN_CHARS}]*(?:\.+[{_PN_CHARS}]+)*"
_PN_LOCAL = (rf"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:[{_PN_CHARS}:]|{_PLX})*"
             rf"(?:\.+(?:[{_PN_CHARS}:]|{_PLX})+)?")
_VARNAME = rf"[{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_ECHAR = r"\\[tbnrf\"'\\]"

_TOKEN = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in (
    ("space", r"[ \t\n\r]+"),
    ("comment", r"#[^\r\n]*"),
    ("iri", rf"<(?:[^<>\"{{}}|^`\\\x00-\x20]|{_UCHAR})*>"),
    ("long1", rf"'''(?:(?:''|')?(?:[^'\\]|{_ECHAR}|{_UCHAR}))*'''"),
    ("long2", rf'"""(?:(?:""|")?(?:[^"\\]|{_ECHAR}|{_UCHAR}))*"""'),
    ("string1", rf"'(?:[^'\\\n\r]|{_ECHAR}|{_UCHAR})*'"),
    ("string2", rf'"(?:[^"\\\n\r]|{_ECHAR}|{_UCHAR})*"'),
    ("var", rf"[?$]{_VARNAME}"),
    ("blank", rf"_:(?:[{_PN_CHARS_U}0-9])(?:[{_PN_CHARS}]*(?:\.+[{_PN_CHARS}]+)*)"),
    ("langtag", r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*(?:--[A-Za-z]+)?"),
    ("pname", rf"(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?"),
    ("number", r"[0-9]+\.[0-9]*[eE][+-]?[0-9]+|\.[0-9]+[eE][+-]?[0-9]+|[0-9]+[eE][+-]?[0-9]+"
               r"|[0-9]*\.[0-9]+|[0-9]+"),
    ("word", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("punct", r"\^\^|<<|>>|\{\||\|\}|<=|>=|!=|&&|\|\||[{}()\[\];,.*/|^!=<>+\-?~]"),
)))
_STRING_KINDS = ("long1", "long2", "string1", "string2")
_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'",
            "\\": "\\"}
_WRITE = {"\t": "\\t", "\b": "\\b", "\n": "\\n", "\r": "\\r", "\f": "\\f", '"': '\\"',
          "\\": "\\\\"}
_SERVICE = re.compile(r"service", re.IGNORECASE)


class LexicalError(ValueError):
    """A text that cannot be read into SPARQL tokens (the message says where)."""


class ServiceToken(ValueError):
    """A keyword or prefixed name that Oxigraph would read as SERVICE."""


def canonical(text: str) -> str:
    """The query in the canonical form described in the module docstring;
    :class:`LexicalError` when the text cannot be read, :class:`ServiceToken` when a token
    would call another host."""
    out: list[str] = []
    position, gap = 0, False
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            line = text.count("\n", 0, position) + 1
            raise LexicalError(f"cannot read the query at line {line}, near "
                               f"{text[position:position + 20]!r}")
        kind, token = match.lastgroup, match.group()
        position = match.end()
        if kind in ("space", "comment"):
            gap = True
            continue
        if (kind == "word" and _SERVICE.search(token)) or (kind == "pname"
                                                           and _SERVICE.match(token)):
            raise ServiceToken(token)
        if kind in _STRING_KINDS:
            token = _string(token, 3 if kind.startswith("long") else 1)
        elif kind == "iri":
            token = _iri(token)
        if out and gap:
            out.append("\n")
        out.append(token)
        gap = False
    return "".join(out) + "\n"


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
        elif body[i + 1] in "uU":
            width = 4 if body[i + 1] == "u" else 8
            code = int(body[i + 2:i + 2 + width], 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise LexicalError(f"\\{body[i + 1]}{body[i + 2:i + 2 + width]} is not a "
                                   "character")
            out.append(chr(code))
            i += 2 + width
        else:
            out.append(_ESCAPES[body[i + 1]])
            i += 2
    return "".join(out)


def _string(token: str, quotes: int) -> str:
    value = _unescape(token[quotes:-quotes])
    if "\\u" in value or "\\U" in value:  # rdflib would expand it again, anywhere
        raise LexicalError("a string holding a backslash before 'u' cannot be checked")
    return '"' + "".join(_WRITE.get(char, char) for char in value) + '"'


def _iri(token: str) -> str:
    value = _unescape(token[1:-1])
    if re.search(r'[<>"{}|^`\\\x00-\x20]', value):
        raise LexicalError(f"the IRI <{value[:60]}> holds a character an IRI cannot hold")
    return f"<{value}>"
