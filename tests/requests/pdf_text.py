"""Read the text back out of a PDF that fpdf2 wrote, the way a PDF reader does it.

No PDF reader library is installed, and fpdf2 writes text in a Unicode font as glyph numbers, not as letters. This
reads the objects (inflating compressed streams), each font's ToUnicode map, and the text operators of the page
contents, and turns the glyph numbers back into letters through the font's own map: so a test sees what a reader
would copy out of the PDF, not what the code meant to write.
"""

from __future__ import annotations

import re
import zlib

OBJECT = re.compile(rb"(\d+) 0 obj\s*<<(.*?)>>\s*(stream\r?\n|endobj)", re.DOTALL)
LENGTH = re.compile(rb"/Length (\d+)")
TO_UNICODE = re.compile(rb"/ToUnicode (\d+) 0 R")
FONT_RESOURCE = re.compile(rb"/(F\d+) (\d+) 0 R")
BFCHAR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
TEXT_OPS = re.compile(rb"/(F\d+) [\d.]+ Tf|\((?P<text>(?:\\.|[^\\)])*)\)\s*Tj", re.DOTALL)
ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def _objects(pdf: bytes) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """Each object's dictionary, and each stream's data (inflated)."""
    dictionaries: dict[int, bytes] = {}
    streams: dict[int, bytes] = {}
    for match in OBJECT.finditer(pdf):
        number = int(match.group(1))
        dictionaries[number] = match.group(2)
        if match.group(3).startswith(b"stream"):
            length = int(LENGTH.search(match.group(2)).group(1))
            data = pdf[match.end() : match.end() + length]
            if b"/FlateDecode" in match.group(2):
                data = zlib.decompress(data)
            streams[number] = data
    return dictionaries, streams


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i : i + 1] == b"\\":
            following = raw[i + 1 : i + 2]
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            out += ESCAPES.get(following, following)
            i += 2
        else:
            out += raw[i : i + 1]
            i += 1
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """The text of the PDF, one line per text operator."""
    assert pdf.startswith(b"%PDF-"), "not a PDF"
    dictionaries, streams = _objects(pdf)
    maps: dict[int, dict[int, str]] = {}
    for number, dictionary in dictionaries.items():
        found = TO_UNICODE.search(dictionary)
        if found and int(found.group(1)) in streams:
            cmap = streams[int(found.group(1))]
            maps[number] = {
                int(code, 16): bytes.fromhex(text.decode()).decode("utf-16-be")
                for code, text in BFCHAR.findall(cmap.split(b"beginbfchar", 1)[-1].split(b"endbfchar", 1)[0])
            }
    fonts: dict[bytes, int] = {}
    for dictionary in dictionaries.values():
        if b"/Font" in dictionary and b"/ProcSet" in dictionary:
            fonts.update({name: int(number) for name, number in FONT_RESOURCE.findall(dictionary)})
    lines: list[str] = []
    for data in streams.values():
        if b"BT" not in data or b"Tj" not in data:
            continue
        font: int | None = None
        for match in TEXT_OPS.finditer(data):
            if match.group(1):
                font = fonts.get(match.group(1))
                continue
            raw = _unescape(match.group("text"))
            cmap = maps.get(font) if font is not None else None
            if cmap is None:
                lines.append(raw.decode("latin-1"))
            else:
                codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                lines.append("".join(cmap.get(code, "\ufffd") for code in codes))
    return "\n".join(lines)


def squeezed(text: str) -> str:
    """The text without any white space, to find values a line break may have split (a long hash)."""
    return "".join(text.split())
