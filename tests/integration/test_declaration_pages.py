"""The declaration pages (issue 14, item 4; SPEC §3.1, §3.5, §4.1): /khai-bao/, a form for each kind of
`POST /v1/declarations`, in a real browser at phone size: headless Chromium (Debian's) driven by Playwright,
against the three services on a real Kafka and Redis, through the gateway that serves every page and API on one
address (`running_services.public`).

The pages may reach nothing beyond loopback (every other request is aborted and recorded), and nothing the
gateway's Content-Security-Policy refuses. A typed phone or ID number may travel in a request body only: not in
an address, the console, the gateway's or the services' logs, the phone's storage (unless the person asked), nor
on `declarations.v1`. Screenshots go to the test's tmp dir (their paths are printed); with `ANTOAN_SCREENSHOT`
set (the map test's `docs/map.png`), two are also written beside it: `declare-phone.png` (a filled form) and
`quarantine-update-phone.png` (the daily update), which is how the README's pictures are made.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

import pytest
from kafka import KafkaConsumer, TopicPartition
from playwright.sync_api import Browser, Page, Request, Response

from antoan_ingest.domain import identity
from antoan_localstack import stack
from antoan_localstack.browser import PHONE, PageContext, axe_violations, publish_screenshot
from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import codec, events, topics

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

VIETNAM = timezone(timedelta(hours=7))
PAGE_WAIT_MS = 30_000
# Long enough for the tracer to raise an alert under a loaded suite.
SERVICE_WAIT_S = 60
DECLARATIONS_PATH = "/v1/declarations"


class Phone(PageContext):
    """A phone (Vietnam's time zone and language) in which only loopback answers (`PageContext`: what else the page
    tried, its uncaught errors, its console, its CSP refusals and every request it made are kept), on /khai-bao/."""

    def __init__(self, browser: Browser, public: str, *, bypass_csp: bool = False) -> None:
        super().__init__(browser, PHONE, is_mobile=True, bypass_csp=bypass_csp)
        self.public = public

    def open(self, fragment: str = "") -> Page:
        """Opens /khai-bao/ (at a kind's own address with `fragment`) afresh and waits for its script to be ready.
        (From a blank page: going to the address already open, fragment and all, would load nothing.)"""
        self.page.goto("about:blank")
        self.page.goto(f"{self.public}/khai-bao/{fragment}")
        self.page.locator("body[data-ready='true']").wait_for(state="attached", timeout=PAGE_WAIT_MS)
        return self.page

    def posted(self) -> list[dict[str, Any]]:
        """The bodies of every declaration the page sent."""
        sent = [r for r in self.requests if r.method == "POST" and is_declaration(r)]
        return [json.loads(r.post_data or "{}") for r in sent]

    def send(self) -> dict[str, Any]:
        """Taps "Gửi tờ khai" and returns ingest's answer; the confirmation is then on the screen."""
        with self.page.expect_response(is_declaration, timeout=PAGE_WAIT_MS) as answer:
            self.page.get_by_role("button", name="Gửi tờ khai").click()
        assert answer.value.status == 202, answer.value.text()
        self.page.locator("#done").wait_for(state="visible", timeout=PAGE_WAIT_MS)
        accepted: dict[str, Any] = answer.value.json()
        return accepted

    def assert_identifiers_only_in_bodies(self, services: RunningServices, *typed: str) -> None:
        """None of the `typed` identifiers (in any spelling) in an address the page asked for, in its console, in
        its title, in the gateway's or a service's log; and the page stayed on this machine and within its CSP."""
        self.assert_self_contained()
        spellings = {s for raw in typed for s in spellings_of(raw)}
        places = {
            "addresses": "\n".join(
                f"{url} {unquote(url)} {unquote_plus(url)}" for url in [self.page.url, *(r.url for r in self.requests)]
            ),
            "console": "\n".join(self.console),
            "title": self.page.title(),
            **{f"{name} log": read_log(services, name) for name in (stack.GATEWAY, *stack.SERVICE_NAMES)},
        }
        for where, text in places.items():
            # (The test's own report does not repeat the identifier either.)
            assert not any(s in text for s in spellings), f"an identifier typed on the page is in the {where}"


@pytest.fixture
def phone(browser: Browser, running_services: RunningServices) -> Iterator[Phone]:
    with Phone(browser, running_services.public) as opened:
        yield opened


def is_declaration(exchange: Request | Response) -> bool:
    """A request to (or an answer from) POST /v1/declarations, whatever its query."""
    return urlsplit(exchange.url).path == DECLARATIONS_PATH


def read_log(services: RunningServices, name: str) -> str:
    path = services.config.log_file(name)
    return path.read_text("utf-8", "replace") if path.exists() else ""


def spellings_of(raw: str) -> set[str]:
    """A typed identifier as typed, without its separators, and as ingest normalises it."""
    compact = re.sub(r"[\s.\-()]", "", raw).upper()
    return {raw, raw.lower(), compact, identity.normalise_person_id(raw).value}


def new_phone_number(rng: random.Random) -> str:
    """A Vietnamese mobile number of this test run's own, typed the way people write it (0912 345 678)."""
    digits = f"09{rng.randrange(10**8):08d}"
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}"


@pytest.fixture
def rng() -> random.Random:
    return random.Random()


@dataclass(frozen=True)
class Published:
    event: events.DeclarationSubmitted
    raw: str  # the record's whole value, non-ASCII unescaped, for searching


def published_declaration(services: RunningServices, event_id: str) -> Published:
    """The record of `event_id` on `declarations.v1` of the test's namespace, with its raw JSON (decoded events
    drop what their model does not know: a raw identifier in an unknown field would go unseen there)."""
    settings = services.settings()
    consumer = KafkaConsumer(
        **settings.kafka_client_config(), enable_auto_commit=False, isolation_level="read_committed"
    )
    topic = settings.topic(topics.DECLARATIONS)
    found: list[Published] = []
    try:
        partitions = wait_for(lambda: consumer.partitions_for_topic(topic), what=topic)
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()

        def arrived() -> bool:
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    event = codec.decode_event(record.value)
                    if event.event_id == event_id and isinstance(event, events.DeclarationSubmitted):
                        whole = json.dumps(json.loads(record.value), ensure_ascii=False)
                        found.append(Published(event, whole))
            return bool(found)

        wait_for(arrived, timeout=SERVICE_WAIT_S, what=f"declaration {event_id} on {topic}")
    finally:
        consumer.close()
    return found[0]


def assert_without(published: Published, *personal: str) -> None:
    """No spelling of the typed identifiers, nor any other personal text typed, in the record."""
    spellings = {s for raw in personal for s in (spellings_of(raw) if has_identifier(raw) else {raw})}
    assert not any(s in published.raw for s in spellings), "a typed identifier or name is on declarations.v1"


def has_identifier(raw: str) -> bool:
    try:
        identity.normalise_person_id(raw)
    except identity.InvalidPersonIdError:
        return False
    return True


def key_of(services: RunningServices, raw: str) -> str:
    """The person key ingest gives `raw` (SPEC §3.1), by ingest's own rule and the stack's pepper."""
    return identity.person_key(services.env["ANTOAN_PEPPER"].encode(), identity.normalise_person_id(raw))


def choose_kind(page: Page, name: str) -> None:
    page.locator("#choose").get_by_text(name, exact=True).click()
    page.locator("#declaration").wait_for(state="visible")


def answer(page: Page, question: str, choice: str) -> None:
    page.get_by_role("group", name=question).get_by_label(choice, exact=True).check()


def today_vn() -> date:
    return datetime.now(VIETNAM).date()


# --- each kind, filled as a person would ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filled:
    typed_ids: tuple[str, ...]
    personal: tuple[str, ...]  # other personal text typed (names, addresses), which must not be on the topic


def fill_domestic(page: Page, rng: random.Random) -> Filled:
    choose_kind(page, "Khai báo y tế")
    number = new_phone_number(rng)
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của bạn").press_sequentially(number)
    page.get_by_label("Họ và tên").fill("Nguyễn Thị Lan")
    page.get_by_label("Ngày sinh").fill("1988-04-12")
    page.get_by_label("Địa chỉ nơi ở hiện nay").fill("25 Trần Phú, Phường Ba Đình, TP Thanh Hóa")
    page.get_by_label("Ho", exact=True).check()
    page.get_by_label("Đau họng", exact=True).check()
    answer(page, "Trong 14 ngày qua, có tiếp xúc gần với người bệnh COVID-19 (F0) không?", "Không")
    answer(page, "Trong 14 ngày qua, có tiếp xúc với người nghi mắc COVID-19 không?", "Có")
    page.get_by_label("Những nơi đã đến trong 14 ngày qua").fill(
        "Chợ Vườn Hoa, TP Thanh Hóa\nBến xe phía Bắc Thanh Hóa"
    )
    return Filled((number,), ("Nguyễn Thị Lan", "25 Trần Phú", "Chợ Vườn Hoa"))


def fill_entry(page: Page, rng: random.Random) -> Filled:
    choose_kind(page, "Khai báo y tế nhập cảnh")
    passport = f"C{rng.randrange(10**7):07d}"
    page.get_by_label("Số hộ chiếu của bạn (hoặc số CCCD)").press_sequentially(passport.lower())
    page.get_by_label("Họ và tên").fill("Lê Minh Tuấn")
    page.get_by_label("Quốc tịch").fill("Việt Nam")
    page.get_by_label("Số hiệu chuyến bay hoặc phương tiện").fill("VN51")
    page.get_by_label("Số ghế").fill("12A")
    page.get_by_label("Nơi khởi hành (thành phố, quốc gia)").fill("Tokyo, Nhật Bản")
    page.get_by_label("Cửa khẩu nhập cảnh").fill("Sân bay quốc tế Nội Bài")
    page.get_by_label("Ngày nhập cảnh").fill(today_vn().isoformat())
    page.get_by_label("Các quốc gia, vùng lãnh thổ đã đi qua trong 14 ngày").fill("Nhật Bản")
    page.get_by_label("Địa chỉ nơi cách ly").fill("Khu cách ly tập trung Trường Quân sự tỉnh Thanh Hóa")
    return Filled((passport,), ("Lê Minh Tuấn", "VN51", "Trường Quân sự"))


def fill_domestic_move(page: Page, rng: random.Random) -> Filled:
    choose_kind(page, "Khai báo di chuyển nội địa")
    number = new_phone_number(rng)
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của bạn").press_sequentially(number)
    page.get_by_label("Phương tiện (xe khách, tàu, máy bay, xe cá nhân…)").fill("Xe khách Hoàng Long 36B-123.45")
    page.get_by_label("Đi từ").fill("TP Hồ Chí Minh")
    page.get_by_label("Đến", exact=True).fill("TP Thanh Hóa")
    page.get_by_label("Bến, ga hoặc chốt khi đi").fill("Bến xe Miền Đông")
    page.get_by_label("Bến, ga hoặc chốt khi đến").fill("Chốt kiểm soát Bỉm Sơn")
    page.get_by_label("Ngày đi").fill((today_vn() + timedelta(days=1)).isoformat())
    page.get_by_label("Mệt mỏi", exact=True).check()
    return Filled((number,), ("36B-123.45", "Bến xe Miền Đông"))


def fill_quarantine_daily(page: Page, rng: random.Random) -> Filled:
    choose_kind(page, "Cập nhật sức khoẻ hằng ngày khi cách ly")
    number = new_phone_number(rng)
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của bạn").press_sequentially(number)
    page.get_by_label("Thân nhiệt hôm nay (°C)").fill("36,8")
    return Filled((number,), ())


FILLERS: dict[str, Callable[[Page, random.Random], Filled]] = {
    "domestic": fill_domestic,
    "entry": fill_entry,
    "domestic_move": fill_domestic_move,
    "quarantine_daily": fill_quarantine_daily,
}
TITLES = {
    "domestic": "Khai báo y tế",
    "entry": "Khai báo y tế nhập cảnh",
    "domestic_move": "Khai báo di chuyển nội địa",
    "quarantine_daily": "Cập nhật sức khoẻ hằng ngày khi cách ly",
}


def check_published_fields(kind: str, event: events.DeclarationSubmitted) -> None:
    """What each form's choices became on the topic (free text stays in the vault, SPEC §3.1)."""
    if kind == "domestic":
        assert event.symptoms == (events.Symptom.COUGH, events.Symptom.SORE_THROAT)
        assert event.contact_with_case is False and event.contact_with_suspected_case is True
    elif kind == "entry":
        assert event.details["arrival_date"] == today_vn().isoformat()
        assert event.symptoms == ()
    elif kind == "domestic_move":
        assert event.details["travel_date"] == (today_vn() + timedelta(days=1)).isoformat()
        assert event.symptoms == (events.Symptom.FATIGUE,)
    else:
        assert event.temperature_c == 36.8 and event.symptoms == ()
    assert event.submitted_by_key is None


@pytest.mark.parametrize("kind", list(FILLERS))
def test_each_kind_filled_on_a_phone_is_confirmed_and_published_without_the_identifiers_typed(
    running_services: RunningServices, phone: Phone, rng: random.Random, tmp_path: Path, kind: str
) -> None:
    # Given the declaration page opened on a phone, in Vietnamese
    page = phone.open()
    assert page.evaluate("() => document.documentElement.lang") == "vi"
    assert page.locator("#choose h2").inner_text() == "Bạn muốn khai báo gì?"
    # When a person chooses the kind and fills its form, typing and choosing
    filled = FILLERS[kind](page, rng)
    assert page.locator("#form-title").inner_text() == TITLES[kind]
    page.evaluate("() => window.scrollTo(0, 0)")
    form_shot = tmp_path / f"declare-{kind}-phone.png"
    page.screenshot(path=str(form_shot))
    if kind == "domestic":
        publish_screenshot(form_shot, "declare-phone.png")
    # And sends it
    before = datetime.now(VIETNAM).replace(second=0, microsecond=0)
    accepted = phone.send()

    # Then the confirmation says what was sent, when, and a reference, with the identifier masked
    done = page.locator("#done")
    assert page.locator("#done-title").inner_text() == "Đã gửi tờ khai"
    assert page.locator("#done-kind").inner_text() == TITLES[kind]
    reference = accepted["event_id"].replace("-", "")[:8].upper()
    assert page.locator("#done-reference").inner_text() == f"{reference[:4]}-{reference[4:]}"
    assert page.locator("#done-event-id").inner_text() == accepted["event_id"]
    shown = page.locator("#done-time").inner_text()
    assert any((before + timedelta(minutes=m)).strftime("%H:%M") in shown for m in (0, 1)), (
        f"the confirmation's time {shown!r} is not now"
    )
    summary = page.locator("#done-summary").inner_text()
    typed = filled.typed_ids[0]
    masked_tail = re.sub(r"\s", "", typed)[-3:].upper()
    assert f"•{masked_tail}" in summary.upper().replace("\n", " ")
    assert not any(s in done.inner_text() for s in spellings_of(typed)), "the confirmation shows the number unmasked"
    done_shot = tmp_path / f"declare-{kind}-done-phone.png"
    page.screenshot(path=str(done_shot))
    print(f"screenshot: {done_shot}")

    # And the declaration is on declarations.v1, of its kind, for the person ingest named, without what was typed
    published = published_declaration(running_services, accepted["event_id"])
    assert published.event.kind.value == kind
    assert published.event.person_key == accepted["person_key"] == key_of(running_services, typed)
    check_published_fields(kind, published.event)
    assert_without(published, *filled.typed_ids, *filled.personal)
    # And the page sent it once, and kept nothing on the phone (remembering was not asked for)
    assert len(phone.posted()) == 1
    on_the_phone = page.evaluate("() => JSON.stringify(localStorage)")
    assert not any(s in on_the_phone for s in spellings_of(typed)), "the number is kept on the phone unasked"
    phone.assert_identifiers_only_in_bodies(running_services, *filled.typed_ids)

    # When the person starts another declaration of another kind
    page.get_by_role("link", name="Chọn loại khai báo khác").click()
    # Then the list of kinds is back
    page.locator("#choose").wait_for(state="visible")
    assert page.locator("#done").is_hidden()


# --- bad values -------------------------------------------------------------------------------------------------


def test_a_bad_value_is_shown_beside_its_field_in_vietnamese_and_nothing_is_sent(
    running_services: RunningServices, phone: Phone, rng: random.Random
) -> None:
    # Given the entry form, filled but for a passport number of four characters and the day of entry
    page = phone.open("#nhap-canh")
    passport_field = page.get_by_label("Số hộ chiếu của bạn (hoặc số CCCD)")
    passport_field.fill("12AB")
    page.get_by_label("Quốc tịch").fill("Hàn Quốc")
    page.get_by_label("Số hiệu chuyến bay hoặc phương tiện").fill("KE479")
    page.get_by_label("Nơi khởi hành (thành phố, quốc gia)").fill("Seoul, Hàn Quốc")
    page.get_by_label("Cửa khẩu nhập cảnh").fill("Sân bay quốc tế Nội Bài")
    page.get_by_label("Địa chỉ nơi cách ly").fill("Khách sạn Mường Thanh, Sầm Sơn")

    # When it is sent
    page.get_by_role("button", name="Gửi tờ khai").click()
    # Then the number's field says, right under it and in Vietnamese, what a valid number is
    error = page.locator("#person-id-error")
    assert error.is_visible()
    assert error.inner_text().startswith("Số không hợp lệ. Số điện thoại: 10 chữ số")
    assert passport_field.get_attribute("aria-invalid") == "true"
    assert "person-id-error" in (passport_field.get_attribute("aria-describedby") or "")
    assert page.evaluate("() => document.activeElement.id") == "person-id"
    # And the missing day of entry is asked for under its own field, and the top of the form counts the two
    assert page.locator("#arrival-date-error").inner_text() == "Hãy chọn ngày."
    assert page.locator("#form-errors").inner_text() == "Có 2 chỗ cần sửa, ghi ngay dưới từng ô."
    # And nothing was sent
    assert phone.posted() == []
    # And in English, the same messages are in English
    page.get_by_role("button", name="EN", exact=True).click()
    assert error.inner_text().startswith("Not a valid number. Phone: 10 digits")
    assert page.locator("#arrival-date-error").inner_text() == "Please choose a date."
    page.get_by_role("button", name="VI", exact=True).click()

    # When the date is chosen and the number typed in digits the page cannot judge (another script's)
    page.get_by_label("Ngày nhập cảnh").fill(today_vn().isoformat())
    assert page.locator("#arrival-date-error").is_hidden()  # an error goes once its field is changed
    passport_field.fill("٠١٢٣")
    with page.expect_response(is_declaration) as refused:
        page.get_by_role("button", name="Gửi tờ khai").click()
    # Then ingest's refusal (400 invalid_person_id) is shown in words under the field, never as the server wrote it
    assert refused.value.status == 400 and refused.value.json()["error"]["code"] == "invalid_person_id"
    error.wait_for(state="visible")
    assert error.inner_text().startswith("Số không hợp lệ.")
    assert refused.value.json()["error"]["message"] not in page.locator("body").inner_text()
    assert "Traceback" not in page.content()
    assert page.locator("#done").is_hidden()

    # When a valid passport number is typed, the declaration goes through
    passport = f"M{rng.randrange(10**7):07d}"
    passport_field.fill(passport)
    accepted = phone.send()
    published = published_declaration(running_services, accepted["event_id"])
    assert published.event.kind is events.DeclarationKind.ENTRY
    assert published.event.person_key == key_of(running_services, passport)
    assert_without(published, passport)
    phone.assert_identifiers_only_in_bodies(running_services, passport)


def test_the_page_judges_an_identifier_as_ingest_does_or_leaves_it_to_ingest(phone: Phone) -> None:
    # Given identifiers written every way people write them, and things that are none
    rng = random.Random(14)
    alphabet = "0123456789 .-()+ABCZabc"
    written = " | ".join(
        (
            "0912345678 | +84912345678 | 84912345678 | 0912 345 678 | (091) 234-5678 | 0212345678 | 038099001234",
            "186543210 | C1234567 | c1234567 | ABCDEFG | A12345 | A1234567890123 | 12AB | 091234567 | 0912345678901",
            "+0912345678 | ８４９１２３４５６７８ | ٠١٢٣ | 0912\u00a0345\u00a0678 | 0912\u2003345678 | ",
        )
    ).split(" | ")
    samples = (
        [*written, "  "]
        + ["".join(rng.choices(alphabet, k=rng.randrange(1, 16))) for _ in range(400)]
        + ["".join(rng.choices("0123456789", k=n)) for n in (9, 10, 11, 12) for _ in range(25)]
    )
    page = phone.open()
    # When the page judges them
    judged: list[str | None] = page.evaluate("samples => samples.map(AntoanDeclarationRules.personIdKind)", samples)
    # Then, wherever it gives a verdict, it is ingest's; it leaves to ingest only what is beyond printable ASCII
    for raw, verdict in zip(samples, judged, strict=True):
        if verdict == "unknown":
            assert re.search(r"[^\x20-\x7e]", raw), raw
            continue
        expected = identity.normalise_person_id(raw).kind.value if has_identifier(raw) else None
        assert verdict == expected, raw


# --- the quarantine daily update ------------------------------------------------------------------------------


def test_a_quarantine_update_with_fever_raises_an_alert_and_takes_seconds_on_the_next_day(
    running_services: RunningServices, phone: Phone, rng: random.Random, tmp_path: Path
) -> None:
    # Given a person in quarantine who opens the daily update from its own address (bookmarked)
    page = phone.open("#cach-ly")
    assert page.locator("#form-title").inner_text() == "Cập nhật sức khoẻ hằng ngày khi cách ly"
    number = new_phone_number(rng)
    # When they type their number, asking the phone to remember it, and 38,5 °C as Vietnamese write it
    page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của bạn").fill(number)
    page.get_by_label("Ghi nhớ số trên máy này").check()
    page.get_by_label("Thân nhiệt hôm nay (°C)").fill("38,5")
    accepted = phone.send()
    # Then the confirmation shows the temperature sent
    assert "38,5 °C" in page.locator("#done-summary").inner_text()
    # And the declaration carries 38.5 °C, and the tracer raises a fever alert on alerts.v1 for that person
    published = published_declaration(running_services, accepted["event_id"])
    assert published.event.kind is events.DeclarationKind.QUARANTINE_DAILY
    assert published.event.temperature_c == 38.5
    assert_without(published, number)
    reader = TopicReader(running_services.settings(), topics.ALERTS)

    def fevers(batch: list[events.Event]) -> list[events.QuarantineAlertRaised]:
        return [
            e
            for e in batch
            if isinstance(e, events.QuarantineAlertRaised)
            and (e.person_key, e.reason) == (accepted["person_key"], "fever")
        ]

    try:
        alerts = reader.wait_until(lambda batch: bool(fevers(batch)), timeout=SERVICE_WAIT_S, what="a fever alert")
    finally:
        reader.close()
    [fever] = fevers(alerts)
    assert fever.detail["temperature_c"] == 38.5
    assert accepted["person_key"] == key_of(running_services, number)

    # When they open the update again the next day
    page = phone.open("#cach-ly")
    # Then their number is filled in (they asked), and temperature and send are on the first screen: two taps
    # and a number
    assert page.get_by_label("Số điện thoại hoặc số CCCD/CMND/hộ chiếu của bạn").input_value() == number
    for needed in ("#temperature", "#submit", "#symptom-fever"):
        box = page.locator(needed).bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], f"{needed} is below the first screen"
    page.get_by_label("Thân nhiệt hôm nay (°C)").fill("37,1")
    page.get_by_label("Ho", exact=True).check()
    shot = tmp_path / "quarantine-update-phone.png"
    page.screenshot(path=str(shot))
    publish_screenshot(shot, "quarantine-update-phone.png")
    again = phone.send()
    assert again["person_key"] == accepted["person_key"]
    # And what is on the phone is the number it was asked to remember, under the key the check-in page reads
    assert page.evaluate("() => localStorage.getItem('antoan.person')") == number
    phone.assert_identifiers_only_in_bodies(running_services, number)


# --- on behalf of someone else ---------------------------------------------------------------------------------


def test_a_declaration_on_behalf_of_a_child_is_the_childs_and_names_who_declared_it(
    running_services: RunningServices, phone: Phone, rng: random.Random
) -> None:
    # Given a parent on the domestic move form, declaring for their child (a 12-digit personal ID)
    page = phone.open("#di-chuyen")
    parent = new_phone_number(rng)
    child = f"038{rng.randrange(10**9):09d}"
    page.get_by_label("Người khác", exact=True).check()
    page.get_by_label("Số CCCD/định danh, hộ chiếu hoặc số điện thoại của người được khai báo").fill(child)
    page.get_by_label("Số điện thoại hoặc số giấy tờ của bạn (người khai hộ)").fill(parent)
    page.get_by_label("Ghi nhớ số trên máy này").check()
    assert page.locator("#contact-legend").inner_text() == "Thông tin của người được khai báo"
    page.get_by_label("Họ và tên").fill("Trần Gia Bảo")
    page.get_by_label("Phương tiện (xe khách, tàu, máy bay, xe cá nhân…)").fill("Tàu SE1")
    page.get_by_label("Đi từ").fill("Ga Hà Nội")
    page.get_by_label("Đến", exact=True).fill("Ga Thanh Hóa")
    page.get_by_label("Ngày đi").fill(today_vn().isoformat())
    # When it is sent
    accepted = phone.send()
    # Then the page sent the child as the person and the parent as who declared
    [body] = phone.posted()
    assert (body["person_id"], body["declared_by"]) == (child, parent)
    # And the declaration is the child's: the person ingest named, by the child's key, with the parent's beside it
    published = published_declaration(running_services, accepted["event_id"])
    assert published.event.person_key == accepted["person_key"] == key_of(running_services, child)
    assert published.event.submitted_by_key == key_of(running_services, parent) != published.event.person_key
    assert_without(published, child, parent, "Trần Gia Bảo")
    summary = page.locator("#done-summary").inner_text()
    assert "Người được khai báo" in summary and "Người khai hộ" in summary

    # When the parent declares again, for the child's grandmother (a 9-digit CMND), on the same trip
    page.get_by_role("button", name="Khai báo tiếp (cho người khác)").click()
    # Then the form is for someone else, with the parent's number and the trip kept, and the child offered
    assert page.get_by_label("Người khác", exact=True).is_checked()
    assert page.get_by_label("Số điện thoại hoặc số giấy tờ của bạn (người khai hộ)").input_value() == parent
    assert page.get_by_label("Đi từ").input_value() == "Ga Hà Nội"
    assert page.get_by_label("Họ và tên").input_value() == ""
    assert page.get_by_role("button", name=f"Khai báo cho {child}").is_visible()
    grandmother = f"{rng.randrange(10**8, 10**9)}"
    page.get_by_label("Số CCCD/định danh, hộ chiếu hoặc số điện thoại của người được khai báo").fill(grandmother)
    second = phone.send()
    # And that declaration is the grandmother's, declared by the same parent
    published = published_declaration(running_services, second["event_id"])
    assert published.event.person_key == second["person_key"] == key_of(running_services, grandmother)
    assert published.event.submitted_by_key == key_of(running_services, parent)
    # And the phone remembers the parent (asked for) and the people declared for, nothing more
    stored = page.evaluate("() => ({...localStorage})")
    assert stored["antoan.person"] == parent
    assert json.loads(stored["antoan.declare.others"]) == [grandmother, child]
    phone.assert_identifiers_only_in_bodies(running_services, child, parent, grandmother)

    # When the same number is typed for both (a person declaring for "someone else" who is themself)
    page.get_by_role("button", name="Khai báo tiếp (cho người khác)").click()
    page.get_by_label("Số CCCD/định danh, hộ chiếu hoặc số điện thoại của người được khai báo").fill(
        parent.replace(" ", "")
    )
    page.get_by_role("button", name="Gửi tờ khai").click()
    # Then the page says so under the declarer's number, and sends nothing
    assert page.locator("#declared-by-error").inner_text().startswith("Đây là cùng một người")
    assert len(phone.posted()) == 2

    # And "forget" clears every number on the phone
    page.get_by_role("button", name="Quên các số đã lưu trên máy").click()
    kept = page.evaluate("() => Object.keys(localStorage)")
    assert [key for key in kept if key.startswith("antoan.") and key != "antoan.lang"] == []


# --- accessibility ---------------------------------------------------------------------------------------------


def test_the_pages_have_no_serious_accessibility_violation_in_either_language(
    running_services: RunningServices, browser: Browser, rng: random.Random
) -> None:
    # Given the page in a context where axe-core may be injected (the gateway's CSP would refuse it)
    phone = Phone(browser, running_services.public, bypass_csp=True)
    try:
        for language, send in (("vi", "Gửi tờ khai"), ("en", "Send declaration")):
            page = phone.open()
            page.locator(f'.lang button[data-lang="{language}"]').click()
            assert page.evaluate("() => document.documentElement.lang") == language
            # When axe looks at the list of kinds, then every form (one for someone else, with its errors showing)
            assert axe_violations(page) == [], (language, "kinds")
            for fragment in ("#noi-dia", "#nhap-canh", "#di-chuyen", "#cach-ly"):
                page = phone.open(fragment)
                assert axe_violations(page) == [], (language, fragment)
            page = phone.open("#noi-dia")
            page.locator("#for-other").check()
            page.locator("#person-id").fill("12")
            page.get_by_role("button", name=send).click()
            page.locator("#person-id-error").wait_for()
            assert axe_violations(page) == [], (language, "errors")
            # Then nothing is serious or critical; nor on the confirmation
            page = phone.open("#cach-ly")
            page.locator("#person-id").fill(new_phone_number(rng))
            page.locator("#temperature").fill("36,6")
            with page.expect_response(is_declaration):
                page.get_by_role("button", name=send).click()
            page.locator("#done").wait_for(state="visible", timeout=PAGE_WAIT_MS)
            assert axe_violations(page) == [], (language, "confirmation")
        assert not phone.errors and not phone.refused
    finally:
        phone.close()
