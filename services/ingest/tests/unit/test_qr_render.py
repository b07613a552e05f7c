"""Venue QR rendering: SVG, PNG and the printable A4 poster (SPEC §3.2).

Codes are read back with a real decoder (zxing-cpp), the poster is rasterised and read with pdfium.
"""

from __future__ import annotations

import io
import re
import shutil
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree

import pypdfium2 as pdfium
import pytest
import segno
import zxingcpp
from PIL import Image

from antoan_ingest.adapters.qr_render import ENGLISH_HINT, STEPS, TITLE, PosterVenue, poster_pdf, qr_png, qr_svg
from antoan_ingest.domain import qr

PAYLOAD = qr.static_qr({"k1": b"qr-secret-one"}, "k1", "v_8f3a2c")
VENUE = PosterVenue(
    venue_id="v_8f3a2c",
    name="Cà phê Hạc Thành — Phường Điện Biên",
    address="25 Hạc Thành, Phường Điện Biên, Thành phố Thanh Hóa, Thanh Hóa",
    category_label="Quán cà phê",
)
A4_PT = (595.28, 841.89)
RENDER_DPI = 150
PRINTER_MARGIN_PT = 5 / 25.4 * 72  # what an office printer cannot print on
SHARED_PREVIEW = Path("/tmp/antoan-poster.png")
LONG_NAME = (
    "Nhà hàng Hải sản Tươi sống Bà Tư — Chi nhánh số 3 đường Lê Lợi, Phường Điện Biên, Thành phố Thanh Hóa, "
    "tỉnh Thanh Hóa, mở cửa từ sáng đến khuya phục vụ khách du lịch và người dân địa phương quanh năm, "
    "kể cả ngày lễ và Tết"
)[:200]


@dataclass(frozen=True)
class RenderedPoster:
    pages: int
    size_pt: tuple[float, float]
    text: str
    char_boxes: list[tuple[float, float, float, float]]  # left, bottom, right, top in points
    image: Image.Image


def _render(pdf: bytes) -> RenderedPoster:
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        textpage = page.get_textpage()
        count = textpage.count_chars()
        boxes = [textpage.get_charbox(i) for i in range(count)]
        text = textpage.get_text_range()
        image = page.render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
        width, height = page.get_size()
        return RenderedPoster(len(doc), (width, height), text, boxes, image)
    finally:
        doc.close()


def _squash(text: str) -> str:
    """Text without any whitespace, so that line wrapping does not matter."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text))


def _decode(image: Image.Image) -> zxingcpp.Barcode:
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1, f"expected one QR code, found {len(codes)}"
    return codes[0]


def _assert_large_qr_code_reading(image: Image.Image, payload: str) -> None:
    code = _decode(image)
    assert code.text == payload
    corners = code.position
    side_px = min(corners.top_right.x - corners.top_left.x, corners.bottom_left.y - corners.top_left.y)
    assert side_px / RENDER_DPI * 25.4 >= 120  # millimetres, without the quiet zone


def _dark_share(image: Image.Image) -> float:
    histogram = image.convert("L").histogram()
    return sum(histogram[:128]) / sum(histogram)


def _assert_text_inside_printable_area(poster: RenderedPoster) -> None:
    width, height = poster.size_pt
    for left, bottom, right, top in poster.char_boxes:
        if right <= left:  # generated spaces and line breaks have no box
            continue
        assert left >= PRINTER_MARGIN_PT, (left, bottom, right, top)
        assert right <= width - PRINTER_MARGIN_PT, (left, bottom, right, top)
        assert bottom >= PRINTER_MARGIN_PT, (left, bottom, right, top)
        assert top <= height - PRINTER_MARGIN_PT, (left, bottom, right, top)


@pytest.fixture(scope="module")
def poster() -> RenderedPoster:
    return _render(poster_pdf(VENUE, PAYLOAD))


# --- SVG -------------------------------------------------------------------------------------------------------


def test_given_a_payload_when_rendered_as_svg_then_it_is_a_standalone_scalable_svg_document() -> None:
    svg = qr_svg(PAYLOAD)

    assert svg.startswith(b"<?xml")
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    side = segno.make_qr(PAYLOAD, error="m", boost_error=False).symbol_size(border=4)[0]
    assert root.get("viewBox") == f"0 0 {side} {side}"
    assert root.get("width") == f"{side}mm"


def test_given_a_venue_name_payload_with_markup_characters_when_rendered_as_svg_then_it_still_parses() -> None:
    svg = qr_svg('ANTOAN1.S.k1.<v&"x">.sig')

    assert ElementTree.fromstring(svg).tag.endswith("svg")  # noqa: S314 - our own output


# --- PNG -------------------------------------------------------------------------------------------------------


def test_given_a_payload_when_rendered_as_png_then_a_qr_reader_reads_the_payload_back() -> None:
    png = qr_png(PAYLOAD)

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    code = _decode(image)
    assert code.text == PAYLOAD
    assert code.ec_level == "M"


def test_given_a_scale_when_rendered_as_png_then_each_module_is_that_many_pixels_with_a_quiet_zone_of_four() -> None:
    modules = len(segno.make_qr(PAYLOAD, error="m", boost_error=False).matrix)

    image = Image.open(io.BytesIO(qr_png(PAYLOAD, scale=3)))

    assert image.size == ((modules + 8) * 3, (modules + 8) * 3)
    quiet = image.convert("L").crop((0, 0, image.width, 4 * 3))
    assert quiet.getextrema() == (255, 255)


def test_given_a_scale_below_one_pixel_when_rendered_as_png_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="scale"):
        qr_png(PAYLOAD, scale=0)


def test_given_an_empty_payload_when_rendered_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        qr_svg("")


# --- Poster ----------------------------------------------------------------------------------------------------


def test_given_a_venue_when_the_poster_is_rendered_then_it_is_a_single_a4_portrait_pdf_page(
    poster: RenderedPoster,
) -> None:
    assert poster_pdf(VENUE, PAYLOAD).startswith(b"%PDF-")
    assert poster.pages == 1
    assert poster.size_pt == pytest.approx(A4_PT, abs=1)


def test_given_a_venue_when_the_poster_is_rendered_then_it_shows_the_venue_and_the_instructions(
    poster: RenderedPoster,
) -> None:
    text = _squash(poster.text)

    for expected in (
        TITLE,
        VENUE.name,
        VENUE.address,
        VENUE.category_label,
        *(f"{number}.{step}" for number, step in enumerate(STEPS, start=1)),
        ENGLISH_HINT,
        VENUE.venue_id,
        "Antoan — nền tảng khai báo y tế và truy vết",
    ):
        assert _squash(expected) in text, expected


def test_given_a_venue_when_the_poster_is_printed_then_its_qr_code_is_large_and_reads_back_the_payload(
    poster: RenderedPoster, tmp_path: Path
) -> None:
    poster.image.save(tmp_path / "poster.png")
    shutil.copyfile(tmp_path / "poster.png", SHARED_PREVIEW)

    assert 0.1 < _dark_share(poster.image) < 0.6
    _assert_large_qr_code_reading(poster.image, PAYLOAD)


def test_given_a_venue_when_the_poster_is_rendered_then_all_text_stays_inside_the_printable_area(
    poster: RenderedPoster,
) -> None:
    _assert_text_inside_printable_area(poster)


@pytest.mark.parametrize("name", [LONG_NAME, "Đ" * 200], ids=["words", "one-long-word"])
def test_given_a_200_character_name_when_the_poster_is_rendered_then_it_all_fits_on_the_one_page(name: str) -> None:
    assert len(name) == 200

    poster = _render(poster_pdf(replace(VENUE, name=name), PAYLOAD))

    assert poster.pages == 1
    assert _squash(name) in _squash(poster.text)
    _assert_text_inside_printable_area(poster)
    _assert_large_qr_code_reading(poster.image, PAYLOAD)


def test_given_an_absurdly_long_name_when_the_poster_is_rendered_then_it_is_cut_short_and_the_page_stays_intact() -> (
    None
):
    name = "Quán " * 400

    poster = _render(poster_pdf(replace(VENUE, name=name, address="Số 1 " * 100), PAYLOAD))

    assert poster.pages == 1
    assert "…" in poster.text
    _assert_text_inside_printable_area(poster)
    _assert_large_qr_code_reading(poster.image, PAYLOAD)


def test_given_a_name_in_decomposed_unicode_when_the_poster_is_rendered_then_the_letters_are_precomposed() -> None:
    decomposed = unicodedata.normalize("NFD", VENUE.name)
    assert decomposed != VENUE.name

    poster = _render(poster_pdf(replace(VENUE, name=decomposed), PAYLOAD))

    assert _squash(VENUE.name) in re.sub(r"\s+", "", poster.text)
