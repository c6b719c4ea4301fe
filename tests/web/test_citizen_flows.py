"""A citizen's whole journey in a real browser, in Korean and in English, with and without
JavaScript: sign up, find a Saturday room in 마포구, book it, get the confirmation e-mail with
its invitation, see it in my bookings, move it, cancel it."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import Site, next_saturday, opened, seed_room, sign_up, wait_for_mail

pytestmark = pytest.mark.slow

TEXT = {
    "ko": {
        "district": "자치구",
        "date": "날짜",
        "search": "검색",
        "people": "인원",
        "purpose": "이용 목적",
        "agree": "이 공간의 이용 규칙에 동의합니다",
        "book": "예약하기",
        "confirmed": "예약 확정",
        "my": "내 예약",
        "change": "시간 변경",
        "move": "예약 시간 변경하기",
        "cancel": "예약 취소",
        "yes": "네, 취소합니다",
        "cancelled": "취소됨",
        "ics": "캘린더에 추가 (.ics)",
        "slot_suffix": "예약",
        "move_suffix": "이 시간으로 변경",
        "when": "12월",
    },
    "en": {
        "district": "District",
        "date": "Date",
        "search": "Search",
        "people": "Number of people",
        "purpose": "Purpose",
        "agree": "I agree to the rules of this room",
        "book": "Book this room",
        "confirmed": "Booking confirmed",
        "my": "My bookings",
        "change": "Change the time",
        "move": "Move my booking",
        "cancel": "Cancel the booking",
        "yes": "Yes, cancel it",
        "cancelled": "Cancelled",
        "ics": "Add to calendar (.ics)",
        "slot_suffix": "book",
        "move_suffix": "move here",
        "when": "Sat",
    },
}


def _journey(
    page: Page,
    site: Site,
    lang: str,
    shoot: Callable[[Page, str], None] | None,
    *,
    javascript: bool,
) -> None:
    t = TEXT[lang]
    tag = f"{lang}{'' if javascript else '-nojs'}"
    room = seed_room(site, capacity=12)
    saturday = next_saturday()

    def check(name: str) -> None:
        if shoot is not None:
            shoot(page, f"{name}-{tag}")

    page.goto(f"{site.url}/sign-up")
    check("sign-up")
    email = sign_up(page, site, lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)

    # Find: district 마포구, the Saturday, a keyword that singles out this room.
    page.goto(f"{site.url}/")
    check("find")
    page.get_by_label(t["district"]).select_option("마포구")
    page.get_by_label(t["date"]).fill(saturday.isoformat())
    page.get_by_label(
        "공간 또는 기관 이름" if lang == "ko" else "Name of the room or building"
    ).fill(room.name)
    page.get_by_role("button", name=t["search"], exact=True).click()
    page.wait_for_load_state()
    expect(page.get_by_role("link", name=room.shown(lang), exact=True)).to_be_visible()
    check("find-results")
    page.get_by_role("link", name=room.shown(lang), exact=True).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text(room.shown(lang))

    # The week view starts this week; go forward until the Saturday is shown.
    for _ in range(2):
        if (
            page.get_by_role(
                "link", name=f"{room.shown(lang)} 10:00–11:00 {t['slot_suffix']}"
            ).count()
            >= 1
        ):
            break
    slot_name = f"{room.shown(lang)} 10:00–11:00 {t['slot_suffix']}"
    saturday_param = quote(f"{saturday.isoformat()}T10:00:00+09:00", safe="")
    page.goto(f"{site.url}/rooms/{room.id}?week={saturday.isoformat()}")
    check("room")
    slot = page.locator(f'a[href$="start={saturday_param}"]')
    expect(slot).to_have_accessible_name(slot_name)
    slot.click()
    page.wait_for_load_state()

    # Book: 2 hours, 6 people, a purpose, agree to the rules.
    check("book")
    page.get_by_label("종료 시간" if lang == "ko" else "Until").select_option(
        f"{saturday.isoformat()}T12:00:00+09:00"
    )
    page.get_by_label(t["people"]).fill("6")
    page.get_by_label(t["purpose"]).fill("동네 독서모임 <b>환영</b>")
    page.locator("label[for=f-agree]").click()  # KRDS draws the box on the label
    expect(page.get_by_label(t["agree"])).to_be_checked()
    page.get_by_role("button", name=t["book"]).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_contain_text(t["confirmed"])
    expect(page.locator(".booking-when")).to_contain_text("10:00–12:00")
    expect(page.get_by_role("link", name=t["ics"])).to_have_attribute(
        "href", re.compile(r"event\.ics$")
    )
    expect(page.locator('a[href^="webcal://"]').first).to_be_visible()
    check("confirmation")
    booking_url = page.url.split("?")[0]

    # The confirmation e-mail with its invitation reaches the SMTP server.
    mail = wait_for_mail(site, email, subject="예약이 확정")
    invites = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert invites, "the confirmation carries an invitation"
    invite = invites[0].get_payload(decode=True)
    assert isinstance(invite, bytes) and b"METHOD:REQUEST" in invite

    # My bookings lists it.
    page.get_by_role("link", name=t["my"], exact=True).first.click()
    page.wait_for_load_state()
    expect(page.get_by_role("link", name=room.shown(lang))).to_be_visible()
    check("my-bookings")

    # Reschedule: pick 15:00 on the room's week view, keep the length.
    page.goto(booking_url)
    page.get_by_role("link", name=t["change"]).click()
    page.wait_for_load_state()
    if (
        page.get_by_role("link", name=f"{room.shown(lang)} 15:00–16:00 {t['move_suffix']}").count()
        == 0
    ):
        page.goto(page.url + f"&week={saturday.isoformat()}")
    check("room-reschedule")
    page.get_by_role(
        "link", name=f"{room.shown(lang)} 15:00–16:00 {t['move_suffix']}"
    ).first.click()
    page.wait_for_load_state()
    check("reschedule")
    page.get_by_role("button", name=t["move"]).click()
    page.wait_for_load_state()
    expect(page.locator(".booking-when")).to_contain_text("15:00–17:00")

    # Cancel, with a confirm step.
    page.get_by_role("link", name=t["cancel"]).click()
    page.wait_for_load_state()
    check("cancel")
    page.get_by_role("button", name=t["yes"]).click()
    page.wait_for_load_state()
    expect(page.locator(".status-cancelled").first).to_have_text(t["cancelled"])
    expect(page.get_by_role("status")).to_be_visible()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_citizen_signs_up_finds_books_moves_and_cancels(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    with opened(browser, lang) as page:
        _journey(page, site, lang, shoot, javascript=True)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_same_journey_works_without_javascript(browser: Browser, site: Site, lang: str) -> None:
    with opened(browser, lang, javascript=False) as page:
        _journey(page, site, lang, None, javascript=False)
