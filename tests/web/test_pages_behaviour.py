"""What the pages promise beyond the happy path: two people racing for one slot, a booking made
with the keyboard alone, CSRF, escaping, sign-in and back, and the remaining pages checked by
axe-core and photographed in both languages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.web.conftest import (
    PASSWORD,
    Site,
    new_context,
    next_saturday,
    opened,
    seed_room,
    seoul,
    sign_up,
)


def _book_url(site: Site, room_id: uuid.UUID, hour: int) -> str:
    start = seoul(next_saturday(), hour).isoformat()
    return f"{site.url}/rooms/{room_id}/book?start={quote(start, safe='')}"


def _count_bookings(site: Site, room_id: uuid.UUID) -> int:
    async def count() -> int:
        value: int = await site.pool.fetchval(
            "SELECT count(*) FROM bookings WHERE room_id = $1 AND status IN ('pending', 'confirmed')",
            room_id,
        )
        return value

    return site.run(count())


@pytest.mark.slow
def test_two_browsers_choose_the_same_slot_one_books_the_other_sees_alternatives(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None]
) -> None:
    room = seed_room(site)
    contexts = [new_context(browser, lang) for lang in ("ko", "en")]
    try:
        pages = [c.new_page() for c in contexts]
        for page, lang in zip(pages, ("ko", "en"), strict=True):
            sign_up(page, site, lang)
            page.goto(_book_url(site, room.id, 14))
            page.locator("#f-attendees").fill("3")
            page.locator("label[for=f-agree]").click()
        # Both press "book" before either answer arrives.
        for page in pages:
            page.locator("form.book-form button[type=submit]").click(no_wait_after=True)
        for page in pages:
            page.wait_for_url(lambda url: "/book" not in url or True)
            page.wait_for_load_state()
            page.wait_for_selector("h1")
        headings = [p.locator("h1").inner_text() for p in pages]
        won = [h for h in headings if "예약 확정" in h or "Booking confirmed" in h]
        lost = [i for i, h in enumerate(headings) if "방금" in h or "just taken" in h]
        assert len(won) == 1 and len(lost) == 1, headings
        loser = pages[lost[0]]
        alternatives = loser.locator(".alt-list a.krds-btn")
        assert alternatives.count() >= 1
        loser_lang = "ko" if lost[0] == 0 else "en"
        expect(alternatives.first).to_have_accessible_name(
            re.compile(re.escape(room.shown(loser_lang)))
        )
        shoot(loser, f"conflict-{'ko' if lost[0] == 0 else 'en'}")
        assert _count_bookings(site, room.id) == 1
        # An alternative opens the booking form for that time, and it books.
        alternatives.first.click()
        loser.wait_for_load_state()
        loser.locator("#f-attendees").fill("3")
        loser.locator("label[for=f-agree]").click()
        loser.locator("form.book-form button[type=submit]").click()
        loser.wait_for_load_state()
        assert _count_bookings(site, room.id) == 2
    finally:
        for c in contexts:
            c.close()


def test_a_double_submitted_booking_form_makes_one_booking(browser: Browser, site: Site) -> None:
    """The same form sent twice (a double click, or a resend) carries the same idempotency key:
    both answers lead to the same booking, and only one exists."""
    room = seed_room(site)
    with opened(browser, "ko", javascript=False) as page:
        sign_up(page, site, "ko")
        page.goto(_book_url(site, room.id, 11))
        form = page.locator("form.book-form")
        fields: dict[str, str | float | bool] = {
            name: form.locator(f'[name="{name}"]').first.input_value()
            for name in ("_csrf_token", "start", "key", "end")
        }
        fields |= {"attendees": "2", "purpose": "", "agree": "yes"}
        answers = [
            page.request.post(f"{site.url}/rooms/{room.id}/book", form=fields, max_redirects=0)
            for _ in range(2)
        ]
        assert [a.status for a in answers] == [303, 303]
        assert answers[0].headers["location"] == answers[1].headers["location"]
    assert _count_bookings(site, room.id) == 1


@pytest.mark.slow
def test_a_room_is_booked_with_the_keyboard_alone(browser: Browser, site: Site) -> None:
    room = seed_room(site)
    with opened(browser, "ko") as page:
        sign_up(page, site, "ko")
        page.goto(f"{site.url}/rooms/{room.id}?week={next_saturday().isoformat()}")
        target = f"{room.name} 16:00–17:00 예약"
        for _ in range(400):
            page.keyboard.press("Tab")
            name = page.evaluate(
                "() => { const e = document.activeElement; return e ? e.innerText.replace(/\\s+/g, ' ').trim() : '' }"
            )
            if "16:00–17:00" in name and page.evaluate(
                "() => document.activeElement.href || ''"
            ).endswith(quote(seoul(next_saturday(), 16).isoformat(), safe="")):
                break
        else:
            raise AssertionError(f"no slot control {target!r} reached by Tab")
        expect(page.locator(":focus")).to_have_accessible_name(target)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        # The form: Tab to each field in order, type, Space on the checkbox, Enter to send.
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "f-end":
                break
        page.keyboard.press("ArrowDown")  # 17:00 is first; two steps of 30 minutes: 18:00
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_id("f-attendees")
        page.keyboard.type("4")
        page.keyboard.press("Tab")
        page.keyboard.type("주민 모임")
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_id("f-agree")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator("h1")).to_contain_text("예약 확정")
        expect(page.locator(".booking-when")).to_contain_text("16:00–18:00")


def test_a_cross_site_post_without_the_csrf_token_is_refused(browser: Browser, site: Site) -> None:
    with opened(browser, "en") as page:
        sign_up(page, site, "en")
        page.goto(f"{site.url}/my/bookings")
        before = page.locator("#feed-url").input_value()
        # A page of another site posts a form to ours.
        page.goto("about:blank")
        page.set_content(
            f'<form method="post" action="{site.url}/my/calendar/rotate"><button>go</button></form>'
        )
        with page.expect_navigation() as navigation:
            page.click("button")
        response = navigation.value
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_have_text("This form has expired")
        page.goto(f"{site.url}/my/bookings")
        assert page.locator("#feed-url").input_value() == before
        # The same post from our own page (with its token) works.
        page.get_by_role("button", name="Make a new address (the old one stops working)").click()
        page.wait_for_load_state()
        assert page.locator("#feed-url").input_value() != before


def test_a_room_named_like_a_script_is_shown_as_text(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None]
) -> None:
    name = "<script>alert(1)</script>"
    room = seed_room(site, name=name)
    with opened(browser, "en") as page:
        dialogs: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.goto(f"{site.url}/rooms/{room.id}")
        expect(page.locator("h1")).to_have_text(name)
        page.goto(f"{site.url}/?q={quote('<script>')}")
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
        assert dialogs == []
        assert page.locator("script:not([src])").count() == 0


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_signed_out_my_bookings_goes_to_sign_in_and_back(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    with opened(browser, lang) as page:
        email = sign_up(page, site, lang)
        page.goto(f"{site.url}/account")
        expect(page.locator("h1")).to_have_text("내 정보" if lang == "ko" else "My account")
        shoot(page, f"account-{lang}")
        page.get_by_role("button", name="로그아웃" if lang == "ko" else "Sign out").first.click()
        page.wait_for_load_state()
        page.goto(f"{site.url}/my/bookings")
        assert "/sign-in?next=/my/bookings" in page.url
        shoot(page, f"sign-in-{lang}")
        # A wrong password: the message sits in the summary, in the page language.
        page.locator("#f-email").fill(email)
        page.locator("#f-password").fill("not the password")
        page.locator("form.narrow-form button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator("#error-summary")).to_contain_text(
            "이메일 주소 또는 비밀번호가 맞지 않습니다."
            if lang == "ko"
            else "The e-mail address or password is not right."
        )
        shoot(page, f"sign-in-error-{lang}")
        page.locator("#f-password").fill(PASSWORD)
        page.locator("form.narrow-form button[type=submit]").click()
        page.wait_for_load_state()
        assert page.url == f"{site.url}/my/bookings"
        expect(page.locator("h1")).to_have_text("내 예약" if lang == "ko" else "My bookings")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_error_pages_and_form_errors_speak_the_page_language(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    room = seed_room(site, capacity=5)
    with opened(browser, lang) as page:
        page.goto(f"{site.url}/rooms/{uuid.uuid4()}")
        expect(page.locator("h1")).to_have_text(
            "페이지를 찾을 수 없습니다" if lang == "ko" else "Page not found"
        )
        shoot(page, f"not-found-{lang}")
        sign_up(page, site, lang)
        # More people than the room holds: the service's refusal appears next to the field.
        page.goto(_book_url(site, room.id, 9))
        page.locator("#f-attendees").evaluate("e => e.removeAttribute('max')")
        page.locator("#f-attendees").fill("50")
        page.locator("label[for=f-agree]").click()
        page.locator("form.book-form button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator("#f-attendees-error")).to_contain_text(
            "이 공간의 수용 인원보다 많습니다."
            if lang == "ko"
            else "More people than this room holds."
        )
        expect(page.locator("#f-attendees")).to_have_attribute("aria-invalid", "true")
        shoot(page, f"book-error-{lang}")
    assert _count_bookings(site, room.id) == 0
