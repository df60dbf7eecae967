"""The one reader of credit files, shared by both engines.

A credit file is read line by line (one record per physical line: no field of a credit
holds a line break), each line decoded on its own, so that one bad byte makes one bad row,
reported on its own line, and the other rows still apply. Each line is split by Python's
``csv`` module (standard dialect, strict: a quote left open or text after a closing quote
makes the row unreadable rather than swallowing the next lines). A line without any quote
or carriage return reads the same with ``str.split(",")`` (``csv`` has nothing to unquote),
which costs a fraction; ``tests/cagnotte/test_import_reader.py`` holds the two to each other.

Neither engine lets the database parse the file: the PostgreSQL engine sends ``COPY`` the
entries it made of the records the reader gave and the checker passed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from operator import itemgetter

from cagnotte.imports.report import ImportFileError

# The credit file's columns, in the order of its header: their one definition. The staging
# table and COPY's column list (postgres.py), the rows the Python engine checks (rules.py)
# and the reports derive from it.
COLUMNS = ("caisse_code", "account_number", "program_code", "period", "amount", "reference")
HEADER = ",".join(COLUMNS)
# A row's key: its regional bank, program and period. The reader collects the file's distinct
# keys: the batch's regional bank and the partitions to analyze after the import come from
# them (cagnotte/imports/__init__.py).
KEY_COLUMNS = ("caisse_code", "program_code", "period")
_key_of = itemgetter(*(COLUMNS.index(c) for c in KEY_COLUMNS))
# How much of the file is read and decoded at once (whole lines: a little more).
BLOCK_BYTES = 1 << 16

# Why a line could not be read into its fields (the rules in rules.py name them).
BAD_ENCODING = "encoding"
BAD_QUOTES = "quotes"
BAD_COLUMNS = "columns"

Record = tuple[int, str | None, list[str] | None, str | None]
"""(line number, read error or None, the fields (``COLUMNS``) or None, plain: the line's text
when it holds no quote or carriage return (its fields are then ``plain.split(",")``), else
None)."""


def read_header(stream) -> None:
    """Check the first line is the header; leave ``stream`` at the first record."""
    first = stream.readline()
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
        fields = next(csv.reader([text], strict=True), [])
    except (UnicodeDecodeError, csv.Error):
        text, fields = first.decode("utf-8-sig", errors="replace").strip(), []
    if tuple(c.strip().lower() for c in fields) != COLUMNS:
        raise ImportFileError(f"en-tête invalide : « {text} » (attendu : « {HEADER} »)")


class Reader:
    """Iterates over the records after the header; counts them and collects the distinct keys
    (``KEY_COLUMNS``) of the rows read into fields."""

    def __init__(self, stream, *, first_line: int = 2):
        self.stream = stream
        self.first_line = first_line
        self.start = stream.tell()
        self.rows = 0
        self.keys: set[tuple[str, str, str]] = set()

    def restart(self) -> None:
        """Back to the first record, to read the file again from there."""
        self.stream.seek(self.start)
        self.rows = 0
        self.keys.clear()

    @property
    def caisse_codes(self) -> set[str]:
        return {key[0] for key in self.keys}

    def __iter__(self) -> Iterator[Record]:
        # The file is read in blocks of whole lines. A block that decodes as a whole and holds
        # no quote, NUL or carriage return (but at the end of a line) is a block of plain
        # lines: decoded once and split on line feeds, each line then split on commas (about
        # 0.3 s less per million lines than line by line). Any other block goes line by line
        # (_read_line): one bad byte still makes one bad row. Both give the same records
        # (tests/cagnotte/test_import_reader.py).
        keys = self.keys
        width = len(COLUMNS)
        line = self.first_line
        readlines = self.stream.readlines
        while raws := readlines(BLOCK_BYTES):
            try:
                text = b"".join(raws).decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None and "\r" in text:
                # A CRLF file: each line drops its last carriage return. Any other one is still
                # in the text, and the block goes line by line.
                text = text.replace("\r\n", "\n")
            if text is None or '"' in text or "\r" in text or "\x00" in text:
                for raw in raws:
                    record = self._read_line(line, raw)
                    line += 1
                    if record is not None:
                        self.rows += 1
                        yield record
                continue
            lines = text.split("\n")
            if raws[-1].endswith(b"\n"):
                lines.pop()  # the text after the last line feed: no line
            for plain in lines:
                fields = plain.split(",")
                first = fields[0]
                if first and not first.isspace() and len(fields) == width:
                    keys.add(_key_of(fields))
                    self.rows += 1
                    yield line, None, fields, plain
                elif not _blank(fields):
                    self.rows += 1
                    if len(fields) != width:
                        yield line, BAD_COLUMNS, None, None
                    else:
                        keys.add(_key_of(fields))
                        yield line, None, fields, plain
                line += 1

    def _read_line(self, line: int, raw: bytes) -> Record | None:
        """One physical line as its record, or None for a blank line (not a row)."""
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return line, BAD_ENCODING, None, None
        if "\x00" in text:  # PostgreSQL's text cannot hold it
            return line, BAD_ENCODING, None, None
        if '"' not in text and "\r" not in text:
            plain = text
            fields = text.split(",")
        else:
            plain = None
            try:
                fields = next(csv.reader([text], strict=True), [])
            except csv.Error:
                return line, BAD_QUOTES, None, None
        if _blank(fields):
            return None
        if len(fields) != len(COLUMNS):
            return line, BAD_COLUMNS, None, None
        self.keys.add(_key_of(fields))
        return line, None, fields, plain


def _blank(fields: list[str]) -> bool:
    # Spreadsheets export empty rows as ",,,,,": skipped, like empty lines.
    if fields and fields[0] and not fields[0].isspace():
        return False
    return not "".join(fields).strip()
