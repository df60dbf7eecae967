"""The one reader: its quick split of quote-free lines reads exactly what ``csv`` reads."""

import csv
import io
import itertools

import pytest

from cagnotte.imports import ImportFileError
from cagnotte.imports import reader as reader_module
from cagnotte.imports.reader import BAD_COLUMNS, BAD_ENCODING, BAD_QUOTES, Reader, read_header

PIECES = ["", "a", " ", ",", '"', "\\", "\t", "\r", "é", "\\.", "x y", '""', "0"]


def records(data: bytes):
    return list(Reader(io.BytesIO(data)))


def test_every_record_reads_as_the_csv_module_reads_its_line():
    # Every line of up to three pieces: plain lines take the quick split, the others csv;
    # either way the fields are csv's (or the line is reported unreadable by csv).
    for parts in itertools.product(PIECES, repeat=3):
        text = "".join(parts)
        line = ",".join(["c", "a", "p", "2026-01", "1", text])
        [record] = records(line.encode() + b"\n") or [None]
        try:
            expected = next(csv.reader([line], strict=True))
        except csv.Error:
            assert record[1] == BAD_QUOTES, line
            continue
        if len(expected) == 6:
            assert record[1:3] == (None, expected), line
            # A plain record carries its line's text, which COPY is sent as it is.
            assert record[3] is None or record[3].split(",") == expected, line
        else:
            assert record[1] == BAD_COLUMNS, line


def test_line_numbers_blank_lines_and_unreadable_lines():
    data = b"\n".join(
        [b"a,b,c,d,e,f", b"", b",,,,,", b"\xff,b,c,d,e,f", b'"a,b,c,d,e,f', b"a,b\x00,c,d,e,f"]
    )
    reader = Reader(io.BytesIO(data + b"\r\n"))
    found = [(line, error) for line, error, _fields, _plain in reader]
    assert found == [(2, None), (5, BAD_ENCODING), (6, BAD_QUOTES), (7, BAD_ENCODING)]
    assert reader.rows == 4 and reader.caisse_codes == {"a"}


def _mixed_file() -> bytes:
    """Plain lines, CRLF lines, quoted, blank, unreadable, NUL, short and long lines, in runs
    (whole blocks of one kind) and interleaved; the last line without its line feed."""
    plain = [f"c{n % 3},a,p,2026-01,{n},r{n}".encode() for n in range(40)]
    odd = [
        b"",
        b",,,,,",
        b" ,\t,,,,",
        b" x,a,p,2026-01,1,r",
        b"a,b",
        b"a,b,c,d,e,f,g",
        b"\xff,a,p,2026-01,1,r",
        b"c,a,p,2026-01,1,\xc3",
        b"c,a,p,2026-01,1,r\x00",
        b'c,a,p,2026-01,1,"r,1"',
        b'c,a,p,2026-01,1,"r',
        b"c,a,p,2026-01,1,r\r",
        b"c,\xc3\xa9,p,2026-01,1,r",
        b"\x1c,a,p,2026-01,1,r",
    ]
    lines = [line + b"\n" for line in plain]
    lines += [line + b"\r\n" for line in plain]
    for n, line in enumerate(odd * 3):
        lines += [line + (b"\n", b"\r\n", b"\r\r\n")[n % 3], plain[n % 40] + b"\n"]
    lines += [line + b"\n" for line in plain]
    return b"".join(lines) + b"c,a,p,2026-01,1,last"


@pytest.mark.parametrize("block", [1, 100, 1000, 1 << 16])
def test_blocks_read_as_each_line_on_its_own(monkeypatch, block):
    # The reader decodes and splits whole blocks of plain lines at once: the records, the row
    # count and the banks seen are those of its line-by-line path, whatever the blocks hold.
    data = _mixed_file()
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", block)
    reader = Reader(io.BytesIO(data))
    found = list(reader)
    one_by_one = Reader(io.BytesIO(b""))
    expected = [
        record
        for line, raw in enumerate(io.BytesIO(data), 2)
        if (record := one_by_one._read_line(line, raw)) is not None
    ]
    assert found == expected
    assert reader.rows == len(expected) > 100
    assert reader.caisse_codes == one_by_one.caisse_codes == {"c0", "c1", "c2", "c", " x", "\x1c"}


@pytest.mark.parametrize(
    "header",
    [
        b"caisse_code,account_number,program_code,period,amount,reference\n",
        b'\xef\xbb\xbf"caisse_code", Account_Number ,program_code,period,amount,reference\r\n',
    ],
)
def test_the_header_is_read_by_the_same_csv_rules(header):
    stream = io.BytesIO(header + b"x\n")
    read_header(stream)
    assert stream.read() == b"x\n"


@pytest.mark.parametrize("header", [b"a,b,c\n", b"\xff\n", b'"caisse_code,account_number\n', b""])
def test_a_wrong_header_refuses_the_file(header):
    with pytest.raises(ImportFileError):
        read_header(io.BytesIO(header))
