"""JSON text to Python values: whole documents with orjson, lists item by item.

The standard library's decoder stays the reference: what orjson refuses goes to it, and a list
is parsed item by item with its ``raw_decode``, so values and error messages (line, column)
are those of ``json.loads`` whatever the reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import orjson

_DECODER = json.JSONDecoder()


BOM = "\ufeff"


def json_loads(text: str) -> object:
    """Parse JSON with orjson (several times faster than json, and the parent process of a
    parallel screening parses every input file); what orjson refuses (NaN, lone surrogates,
    malformed text) goes to json, so the accepted values and the error messages stay those of
    the standard library. One difference remains: an integer beyond 64 bits is read as the
    nearest float, as JavaScript reads it.

    Whatever the text, the only exception is :class:`json.JSONDecodeError`: a leading
    byte-order mark is dropped, nesting beyond orjson's depth limit is refused where orjson
    stops, and the standard library's own limits (an integer of thousands of digits, recursion)
    become decode errors at the position orjson gave, never a ValueError or RecursionError
    that would end a batch.
    """
    if text.startswith(BOM):
        text = text[1:]
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as first:
        if "depth" in first.msg:
            raise
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            raise json.JSONDecodeError(beyond_limits(exc), text, first.pos) from None


def text_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """The lines of an NDJSON file, numbered from 1, each decoded on its own: a line that is
    not UTF-8 comes as ``None`` (its record is reported) and the lines after it are still read.
    A byte-order mark before the first line is dropped."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None


def beyond_limits(exc: BaseException) -> str:
    """The message of a decode that hit one of the standard library's limits."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return "a number too long to read (thousands of digits)"


class Unreadable:
    """An item of a list that is valid JSON but beyond what the decoder can read (nested too
    deeply, a number of thousands of digits): skipped, so that it costs only itself."""

    def __init__(self, message: str) -> None:
        self.message = message


class ArrayReader:
    """Iterate over the items of a JSON array in a text stream, holding one chunk at a time.

    Each item is parsed by the standard library's decoder (``raw_decode``), so values and
    error messages are those of ``json.loads``; positions in errors are counted in the whole
    file. An item not yet followed by ',' or ']' in the text read so far is parsed again once
    more text is read, so an item is never cut at a chunk boundary. An item the decoder cannot
    read for its limits is skipped to its end and given as :class:`Unreadable`.
    """

    CHUNK = 1 << 20
    _BLANK = " \t\n\r"

    def __init__(self, handle, chunk: int = CHUNK) -> None:
        self.handle, self.chunk = handle, chunk
        self.text, self.pos, self.eof = "", 0, False
        self.lines_before = 0  # newlines in the text already dropped
        self.column_before = 0  # characters of the current line already dropped

    def __iter__(self) -> Iterator[object]:
        self._expect("[", "Expecting value")
        if self._peek() == "]":
            self.pos += 1
        else:
            while True:
                yield self._item()
                char = self._peek()
                self.pos += 1
                if char == "]":
                    break
                if char != ",":
                    self.pos -= 1
                    self._fail("Expecting ',' delimiter")
        if self._peek() != "":
            self._fail("Extra data")

    def _item(self) -> object:
        self._peek()
        while True:
            try:
                item, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self._read_more():
                    continue
                self.pos = exc.pos
                self._fail(exc.msg)
            except (ValueError, RecursionError) as exc:
                found = self._end_of_value(self.pos)
                if found is None:
                    self._fail(beyond_limits(exc))
                self.pos = cast(int, found)  # (_fail raises)
                self._drop_read()
                return Unreadable(beyond_limits(exc))
            if not self._delimited(end) and self._read_more():
                continue  # a number may go on in the next chunk ("1e" then "+21")
            self.pos = end
            self._drop_read()
            return item

    def _end_of_value(self, start: int) -> int | None:
        """Where the value that begins at ``start`` ends, found without recursion (brackets
        counted outside strings), reading more text as needed; None if the text ends first."""
        depth, in_string, escaped, at = 0, False, False, start
        while True:
            while at < len(self.text):
                char = self.text[at]
                at += 1
                if in_string:
                    escaped, in_string = (False, True) if escaped else (char == "\\",
                                                                        char != '"')
                elif char == '"':
                    in_string = True
                elif char in "[{":
                    depth += 1
                elif char in "]}":
                    depth -= 1
                    if depth == 0:
                        return at
                elif depth == 0 and char in ",] \t\n\r":
                    return at - 1  # the end of a bare number
            if not self._read_more():
                return None

    def _delimited(self, end: int) -> bool:
        """Whether the text read so far shows ',' or ']' after an item that ends at ``end``."""
        while end < len(self.text) and self.text[end] in self._BLANK:
            end += 1
        return end < len(self.text) and self.text[end] in ",]"

    def _peek(self) -> str:
        """The next non-blank character ('' at the end), reading more text as needed."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in self._BLANK:
                self.pos += 1
            if self.pos < len(self.text) or not self._read_more():
                return self.text[self.pos:self.pos + 1]

    def _expect(self, char: str, message: str) -> None:
        if self._peek() != char:
            self._fail(message)
        self.pos += 1

    def _read_more(self) -> bool:
        if self.eof:
            return False
        # At least as much again as is held: an item that spans many chunks (or a syntax error
        # that makes the rest of the file look like one item) is parsed O(log n) times.
        block = self.handle.read(max(self.chunk, len(self.text) - self.pos))
        if not block:
            self.eof = True
            return False
        self.text += block
        return True

    def _drop_read(self) -> None:
        """Forget the text before the current position, counting its lines and columns."""
        if self.pos < self.chunk:
            return
        dropped = self.text[:self.pos]
        newlines = dropped.count("\n")
        if newlines:
            self.lines_before += newlines
            self.column_before = len(dropped) - dropped.rfind("\n") - 1
        else:
            self.column_before += len(dropped)
        self.text, self.pos = self.text[self.pos:], 0

    def _fail(self, message: str) -> None:
        newlines = self.text.count("\n", 0, self.pos)
        line = self.lines_before + newlines + 1
        column = (self.column_before + self.pos + 1 if not newlines
                  else self.pos - self.text.rfind("\n", 0, self.pos))
        error = json.JSONDecodeError(message, self.text, self.pos)
        error.lineno, error.colno = line, column
        raise error
