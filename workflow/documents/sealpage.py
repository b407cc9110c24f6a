"""The sealed contract's signature page, drawn directly in PDF (issue 16): left-aligned lines of
text in an embedded TrueType font (PDF/A wants every font embedded).

Why not pyHanko's text stamp: it parses, subsets and writes the font again for every page, which
cost more than the seal itself (bench.contracts). Here the font — cut once per process to the
characters a page may show (Latin letters and their accents, typographic punctuation, the euro
sign) — is compressed once, with its glyph map, widths and ToUnicode map (so the page's text can
be copied and searched); each page then only adds a few small objects and its text's stream."""

from __future__ import annotations

import logging
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import BasePdfFileWriter

__all__ = ["PageFont", "add_text_page", "page_font"]

A4 = (595, 842)
MARGIN = 50
SIZE = 10
LEADING = 14
# The characters a signature page may show: Latin letters with their accents (U+0020–U+024F),
# typographic punctuation (U+2000–U+206F) and the euro sign.
PAGE_CHARACTERS = [*range(0x20, 0x250), *range(0x2000, 0x2070), 0x20AC]
_N = generic.NameObject


@dataclass(frozen=True)
class PageFont:
    """A TrueType font ready to embed: its program compressed, its metrics in PDF units."""

    base_name: str  # with the subset tag PDF asks of a subset font
    program: bytes  # the font file, FlateDecode-compressed
    length1: int  # the font file's length before compression
    glyphs: Mapping[int, int]  # code point → glyph id
    advances: Mapping[int, int]  # glyph id → advance width, in thousandths of the font size
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int
    to_unicode: bytes  # the ToUnicode CMap, compressed

    def width(self, text: str, size: float) -> float:
        return sum(self.advances.get(self.glyphs.get(ord(c), 0), 0) for c in text) * size / 1000


@lru_cache(maxsize=4)
def page_font(path: Path) -> PageFont:
    """The font at `path`, cut down and measured once per process."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "FFTM NOT subset" noise
    font = TTFont(BytesIO(path.read_bytes()))
    options = subset.Options()
    options.layout_features = []  # left to right, no ligatures: the page is plain text
    options.hinting = False
    options.notdef_outline = True
    options.glyph_names = False
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=PAGE_CHARACTERS)
    cutter.subset(font)
    out = BytesIO()
    font.save(out)
    program = out.getvalue()
    font = TTFont(BytesIO(program))
    order = font.getGlyphOrder()
    ids = {name: i for i, name in enumerate(order)}
    glyphs = {cp: ids[name] for cp, name in font.getBestCmap().items()}
    scale = 1000 / font["head"].unitsPerEm
    advances = {ids[name]: round(adv * scale) for name, (adv, _) in font["hmtx"].metrics.items()}
    head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
    ascent, descent = round(hhea.ascent * scale), round(hhea.descent * scale)
    cap = getattr(os2, "sCapHeight", 0) or ascent
    family = str(font["name"].getDebugName(6) or path.stem).replace(" ", "")
    return PageFont(
        base_name=f"FDLSCL+{family}",
        program=zlib.compress(program, 9),
        length1=len(program),
        glyphs=glyphs,
        advances=advances,
        bbox=(
            round(head.xMin * scale),
            round(head.yMin * scale),
            round(head.xMax * scale),
            round(head.yMax * scale),
        ),
        ascent=ascent,
        descent=descent,
        cap_height=round(cap * scale),
        to_unicode=zlib.compress(_to_unicode(glyphs), 9),
    )


def _to_unicode(glyphs: Mapping[int, int]) -> bytes:
    """The CMap from glyph ids (two-byte codes, Identity-H) back to text."""
    pairs = sorted({gid: cp for cp, gid in glyphs.items() if cp <= 0xFFFF}.items())
    blocks = []
    for i in range(0, len(pairs), 100):  # at most 100 entries per bfchar block
        chunk = pairs[i : i + 100]
        body = "\n".join(f"<{gid:04X}> <{cp:04X}>" for gid, cp in chunk)
        blocks.append(f"{len(chunk)} beginbfchar\n{body}\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode()


def _numbers(values: Sequence[int]) -> generic.ArrayObject:
    return generic.ArrayObject([generic.NumberObject(v) for v in values])


def _flate(data: bytes, extra: Mapping[str, Any] | None = None) -> generic.StreamObject:
    entries = {_N("/Filter"): _N("/FlateDecode"), **(extra or {})}
    return generic.StreamObject(entries, encoded_data=data)


def _type0(writer: BasePdfFileWriter, font: PageFont, used: set[int]) -> generic.IndirectObject:
    """The font's objects in `writer`: its program, descriptor, CID font and Type0 font (the
    widths of the glyphs the page uses)."""
    program = writer.add_object(_flate(font.program, {_N("/Length1"): generic.NumberObject(
        font.length1)}))  # fmt: skip
    descriptor = writer.add_object(
        generic.DictionaryObject(
            {
                _N("/Type"): _N("/FontDescriptor"),
                _N("/FontName"): _N(f"/{font.base_name}"),
                _N("/Flags"): generic.NumberObject(32),  # nonsymbolic
                _N("/FontBBox"): _numbers(font.bbox),
                _N("/ItalicAngle"): generic.NumberObject(0),
                _N("/Ascent"): generic.NumberObject(font.ascent),
                _N("/Descent"): generic.NumberObject(font.descent),
                _N("/CapHeight"): generic.NumberObject(font.cap_height),
                _N("/StemV"): generic.NumberObject(80),
                _N("/FontFile2"): program,
            }
        )
    )
    widths = generic.ArrayObject()
    for gid in sorted(used):
        widths += [generic.NumberObject(gid), _numbers([font.advances.get(gid, 0)])]
    cid_font = writer.add_object(
        generic.DictionaryObject(
            {
                _N("/Type"): _N("/Font"),
                _N("/Subtype"): _N("/CIDFontType2"),
                _N("/BaseFont"): _N(f"/{font.base_name}"),
                _N("/CIDSystemInfo"): generic.DictionaryObject(
                    {
                        _N("/Registry"): generic.pdf_string("Adobe"),
                        _N("/Ordering"): generic.pdf_string("Identity"),
                        _N("/Supplement"): generic.NumberObject(0),
                    }
                ),
                _N("/FontDescriptor"): descriptor,
                _N("/W"): widths,
                _N("/CIDToGIDMap"): _N("/Identity"),
            }
        )
    )
    return writer.add_object(
        generic.DictionaryObject(
            {
                _N("/Type"): _N("/Font"),
                _N("/Subtype"): _N("/Type0"),
                _N("/BaseFont"): _N(f"/{font.base_name}"),
                _N("/Encoding"): _N("/Identity-H"),
                _N("/DescendantFonts"): generic.ArrayObject([cid_font]),
                _N("/ToUnicode"): writer.add_object(_flate(font.to_unicode)),
            }
        )
    )


def _helvetica(writer: BasePdfFileWriter) -> generic.IndirectObject:
    return writer.add_object(
        generic.DictionaryObject(
            {
                _N("/Type"): _N("/Font"),
                _N("/Subtype"): _N("/Type1"),
                _N("/BaseFont"): _N("/Helvetica"),
            }
        )
    )


def _ascii(text: str) -> str:
    # The standard fonts' glyphs are not the accents': without a TrueType font, the letters alone.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _pdf_literal(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("ascii") + b")"


def add_text_page(writer: BasePdfFileWriter, lines: Sequence[str], font: PageFont | None) -> None:
    """Append an A4 page to `writer` showing `lines` from the top, each shrunk to the page's
    width if need be; in `font`, else (no font file) in Helvetica without the accents."""
    width = A4[0] - 2 * MARGIN
    used: set[int] = set()
    ops = [b"BT", f"{LEADING} TL {MARGIN} {A4[1] - MARGIN - SIZE} Td".encode()]
    for line in lines:
        if font is not None:
            gids = [font.glyphs.get(ord(c), 0) for c in line]
            used.update(gids)
            shown = b"<" + "".join(f"{g:04X}" for g in gids).encode() + b">"
            natural = font.width(line, SIZE)
        else:
            line = _ascii(line)
            shown = _pdf_literal(line)
            natural = len(line) * SIZE * 0.56  # Helvetica's mean advance, near enough
        size = SIZE if natural <= width else SIZE * width / natural
        ops.append(f"/F1 {size:.2f} Tf".encode() + b" " + shown + b" Tj T*")
    ops.append(b"ET")
    content = generic.StreamObject(stream_data=b"\n".join(ops))
    content.compress()
    face = _type0(writer, font, used) if font is not None else _helvetica(writer)
    page = generic.DictionaryObject(
        {
            _N("/Type"): _N("/Page"),
            _N("/MediaBox"): _numbers([0, 0, *A4]),
            _N("/Resources"): generic.DictionaryObject(
                {_N("/Font"): generic.DictionaryObject({_N("/F1"): face})}
            ),
            _N("/Contents"): writer.add_object(content),
        }
    )
    writer.insert_page(page)
