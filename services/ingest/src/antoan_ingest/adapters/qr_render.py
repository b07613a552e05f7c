"""Venue QR code rendering: SVG, PNG and a printable A4 poster PDF (SPEC §3.2).

Pure rendering: the only I/O is reading the bundled DejaVu Sans fonts (``antoan_ingest.assets``), which cover
Vietnamese. The QR code uses error correction level M (never boosted, so the symbol is predictable) and the
standard quiet zone of 4 modules. In the PDF the code is drawn as vector rectangles, one filled path, so it
prints sharp at any resolution.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import segno

if TYPE_CHECKING:
    from fpdf import FPDF

# fpdf2 is imported where a poster is drawn, not with this module: it (and fontTools, numpy) took 1.7 s of
# the 4.2 s an ingest process spent importing its app, in every worker at every start, for a PDF most
# processes never draw.

QUIET_ZONE = 4  # modules, as ISO/IEC 18004 requires
ERROR_CORRECTION = "m"

_FONT_FAMILY = "DejaVuSans"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

# A4 portrait layout, millimetres.
_PAGE_W, _PAGE_H = 210.0, 297.0
_MARGIN = 15.0
_CONTENT_W = _PAGE_W - 2 * _MARGIN
_HEADER_H = 26.0
_NAME_TOP = _HEADER_H + 6.0
_NAME_MAX_H = 30.0  # the name shrinks (and, at the smallest size, is cut with "…") to stay within this
_QR_MAX_SIDE = 130.0  # the symbol itself, without its quiet zone
_QR_GAP = 3.0  # between the frame around the quiet zone and the text above and below
_FOOTER_RULE_Y = _PAGE_H - 17.0
_PT_TO_MM = 25.4 / 72
_LINE_SPACING = 1.2  # line height / font size

_INK = (33, 33, 33)
_MUTED = (97, 97, 97)
_ACCENT = (0, 82, 147)
_WHITE = (255, 255, 255)

TITLE = "QUÉT MÃ QR ĐỂ KHAI BÁO Y TẾ"
STEPS = (
    "Mở camera của bất kỳ điện thoại nào (không cần cài ứng dụng) hoặc PC-Covid, Bluezone, NCOVI, Tờ khai y tế",
    "Quét mã này khi vào và khi ra, rồi bấm “Vào” hoặc “Ra” trên trang mở ra",
    "Nếu không có điện thoại thông minh, đề nghị nhân viên quét mã QR cá nhân của bạn",
)
ENGLISH_HINT = (
    "Scan this code with any phone camera (no app needed), or with PC-Covid, Bluezone, NCOVI or Tờ khai y tế,"
    " when you enter and when you leave."
)
PLATFORM_LINE = "Antoan — nền tảng khai báo y tế và truy vết"


@dataclass(frozen=True)
class PosterVenue:
    venue_id: str
    name: str
    address: str
    category_label: str


def qr_svg(payload: str) -> bytes:
    """A standalone SVG document (XML declaration, SVG namespace, viewBox) of the code, 1 mm per module."""
    out = io.BytesIO()
    _make_qr(payload).save(out, kind="svg", border=QUIET_ZONE, scale=1, unit="mm", xmldecl=True, svgns=True)
    return out.getvalue()


def qr_png(payload: str, scale: int = 10) -> bytes:
    """A black-on-white PNG of the code, ``scale`` pixels per module, quiet zone included."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1 pixel per module, got {scale}")
    out = io.BytesIO()
    _make_qr(payload).save(out, kind="png", border=QUIET_ZONE, scale=scale)
    return out.getvalue()


def poster_pdf(venue: PosterVenue, payload: str) -> bytes:
    """A one-page A4 portrait poster: title, venue, a large QR code and the instructions.

    The symbol is 130 mm wide when the venue texts are short, never under 120 mm for any payload over 14 bytes
    (QR version 2 and up; real venue payloads are ~45 bytes). Long names shrink, down to 10 pt, and are cut
    with "…" beyond 7 lines at that size; whitespace is collapsed and text normalised to NFC.
    """
    matrix = _make_qr(payload).matrix
    name = _nfc(venue.name)
    pdf = _new_document(f"{TITLE} — {name}")
    pdf.add_page()

    # Header band with the call to action.
    pdf.set_fill_color(*_ACCENT)
    pdf.rect(0, 0, _PAGE_W, _HEADER_H, style="F")
    pdf.set_text_color(*_WHITE)
    _fitted_lines(pdf, TITLE, style="B", top=1, max_pt=25, min_pt=14, max_lines=1, height=_HEADER_H)

    # Venue: name, category, address. Everything below the QR code is laid out from the bottom up, so the
    # space between the two blocks is what the QR code gets.
    pdf.set_text_color(*_INK)
    y = _fitted_lines(pdf, name, style="B", top=_NAME_TOP, max_pt=30, min_pt=10, max_lines=8, height=_NAME_MAX_H)
    pdf.set_text_color(*_ACCENT)
    y = _fitted_lines(pdf, _nfc(venue.category_label), style="B", top=y + 2, max_pt=14, min_pt=9, max_lines=1)
    pdf.set_text_color(*_MUTED)
    top_end = _fitted_lines(pdf, _nfc(venue.address), style="", top=y + 1, max_pt=12, min_pt=8, max_lines=2)

    bottom_start = _instructions_and_footer(pdf, venue.venue_id)

    # The code, centred in what is left, with its quiet zone (and a thin frame just outside it).
    modules = len(matrix)
    span = modules + 2 * QUIET_ZONE
    available = bottom_start - top_end - 2 * _QR_GAP
    module = min(_QR_MAX_SIDE / modules, available / span, _CONTENT_W / span)
    outer = module * span
    x0 = (_PAGE_W - outer) / 2
    y0 = top_end + _QR_GAP + (available - outer) / 2
    pdf.set_draw_color(*_ACCENT)
    pdf.set_line_width(0.6)
    pdf.rect(x0, y0, outer, outer, style="D", round_corners=True, corner_radius=4)
    _draw_matrix(pdf, matrix, x0 + QUIET_ZONE * module, y0 + QUIET_ZONE * module, module)

    return bytes(pdf.output())


def _make_qr(payload: str) -> segno.QRCode:
    if not payload:
        raise ValueError("the QR payload is empty")
    return segno.make_qr(payload, error=ERROR_CORRECTION, boost_error=False)


def _nfc(text: str) -> str:
    # Without text shaping, combining accents (NFD input) would be drawn as separate glyphs; DejaVu Sans has
    # every precomposed Vietnamese letter.
    return unicodedata.normalize("NFC", " ".join(text.split()))


_font_files = contextlib.ExitStack()
atexit.register(_font_files.close)


@cache
def _font_paths() -> dict[str, Path]:
    """Filesystem paths of the bundled fonts (extracted once to a temporary file if installed zipped)."""
    fonts = resources.files("antoan_ingest.assets") / "fonts"
    return {style: _font_files.enter_context(resources.as_file(fonts / name)) for style, name in _FONT_FILES.items()}


def _new_document(title: str) -> FPDF:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.c_margin = 0
    for style, path in _font_paths().items():
        pdf.add_font(_FONT_FAMILY, style, path)
    pdf.set_lang("vi")
    pdf.set_title(title)
    pdf.set_author("Antoan")
    pdf.set_creator("Antoan")
    return pdf


def _line_height(size_pt: float) -> float:
    return size_pt * _PT_TO_MM * _LINE_SPACING


def _wrap(pdf: FPDF, text: str, style: str, size_pt: float, width: float = _CONTENT_W) -> list[str]:
    """The lines ``multi_cell`` would break ``text`` into at this font and width (nothing is drawn)."""
    from fpdf.enums import MethodReturnValue

    pdf.set_font(_FONT_FAMILY, style, size_pt)
    lines = pdf.multi_cell(width, text=text, dry_run=True, output=MethodReturnValue.LINES)
    if not isinstance(lines, list):  # the return type depends on ``output``
        raise TypeError(f"multi_cell returned {type(lines).__name__}, expected the list of lines")
    return [str(line) for line in lines]


def _fitted_lines(
    pdf: FPDF,
    text: str,
    *,
    style: str,
    top: float,
    max_pt: float,
    min_pt: float,
    max_lines: int,
    height: float | None = None,
) -> float:
    """Draw ``text`` centred across the content width from ``top``, at the largest size from ``max_pt`` down to
    ``min_pt`` at which it fits in ``max_lines`` lines (and ``height``, when given, in which it is then centred
    vertically); at ``min_pt`` what does not fit is cut with "…". Returns the y below the text."""
    from fpdf.enums import Align, XPos, YPos

    size = max_pt
    while True:
        lines = _wrap(pdf, text, style, size)
        fits = len(lines) <= max_lines and (height is None or len(lines) * _line_height(size) <= height)
        if fits or size <= min_pt:
            break
        size = max(min_pt, size - 1)
    if not fits:
        room = max_lines if height is None else max(1, min(max_lines, int(height // _line_height(size))))
        lines = lines[:room]
        lines[-1] = _cut(pdf, lines[-1], _CONTENT_W)
    line_h = _line_height(size)
    y = top if height is None else top + (height - len(lines) * line_h) / 2
    pdf.set_xy(_MARGIN, y)
    for line in lines:
        pdf.cell(_CONTENT_W, line_h, line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return top + height if height is not None else pdf.get_y()


def _instructions_and_footer(pdf: FPDF, venue_id: str) -> float:
    """Draw the numbered steps, the English hint and the footer at the bottom of the page; return their top."""
    from fpdf.enums import Align

    step_pt, hint_pt, footer_pt = 13.0, 9.5, 8.5
    number_w = 9.0
    text_w = _CONTENT_W - number_w
    step_h = _line_height(step_pt)
    hint_h = _line_height(hint_pt)

    step_lines = [_wrap(pdf, step, "", step_pt, text_w) for step in STEPS]
    hint_lines = _wrap(pdf, ENGLISH_HINT, "", hint_pt)
    step_gap, hint_gap, footer_gap = 1.5, 2.5, 5.0
    block_h = (
        sum(len(lines) for lines in step_lines) * step_h
        + step_gap * (len(STEPS) - 1)
        + hint_gap
        + len(hint_lines) * hint_h
    )
    top = _FOOTER_RULE_Y - footer_gap - block_h

    y = top
    for number, lines in enumerate(step_lines, start=1):
        pdf.set_text_color(*_ACCENT)
        pdf.set_font(_FONT_FAMILY, "B", step_pt)
        pdf.set_xy(_MARGIN, y)
        pdf.cell(number_w, step_h, f"{number}.")
        pdf.set_text_color(*_INK)
        pdf.set_font(_FONT_FAMILY, "", step_pt)
        for line in lines:
            pdf.set_xy(_MARGIN + number_w, y)
            pdf.cell(text_w, step_h, line)
            y += step_h
        y += step_gap
    y += hint_gap - step_gap
    pdf.set_text_color(*_MUTED)
    pdf.set_font(_FONT_FAMILY, "", hint_pt)
    for line in hint_lines:
        pdf.set_xy(_MARGIN, y)
        pdf.cell(_CONTENT_W, hint_h, line)
        y += hint_h

    pdf.set_draw_color(*_MUTED)
    pdf.set_line_width(0.2)
    pdf.line(_MARGIN, _FOOTER_RULE_Y, _PAGE_W - _MARGIN, _FOOTER_RULE_Y)
    pdf.set_font(_FONT_FAMILY, "", footer_pt)
    footer_h = _line_height(footer_pt)
    pdf.set_xy(_MARGIN, _FOOTER_RULE_Y + 2)
    pdf.cell(_CONTENT_W / 2, footer_h, _ellipsize(pdf, f"Mã địa điểm: {venue_id}", _CONTENT_W / 2 - 2))
    pdf.cell(_CONTENT_W / 2, footer_h, PLATFORM_LINE, align=Align.R)
    return top


def _ellipsize(pdf: FPDF, text: str, width: float) -> str:
    return text if pdf.get_string_width(text) <= width else _cut(pdf, text, width)


def _cut(pdf: FPDF, text: str, width: float) -> str:
    """``text`` shortened as needed so that it and a closing "…" fit in ``width`` at the current font."""
    text = text.rstrip()
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1].rstrip()
    return text + "…"


def _draw_matrix(pdf: FPDF, matrix: tuple[bytearray, ...], x0: float, y0: float, module: float) -> None:
    """Dark modules as one filled path of horizontal runs: no hairline seams between neighbouring modules."""
    from fpdf.drawing import PaintedPath
    from fpdf.enums import PathPaintRule

    path = PaintedPath()
    path.style.paint_rule = PathPaintRule.FILL_NONZERO
    path.style.fill_color = "#000000"
    path.style.stroke_color = None
    for row_index, row in enumerate(matrix):
        col, width = 0, len(row)
        while col < width:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < width and row[col]:
                col += 1
            path.rectangle(x0 + start * module, y0 + row_index * module, (col - start) * module, module)
    with pdf.drawing_context() as context:
        context.add_item(path, clone=False)  # the default deep copy of a path this size costs ~100 ms
