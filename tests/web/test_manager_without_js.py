"""The manager pages are plain forms and links first: with JavaScript off in the browser, a manager
approves a waiting request, sees it on the week calendar, and adds one closure shown to citizens
and one internal one; a citizen's room page then gives the shown reason and never the internal
one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from tests.factories import create_room
from tests.web.conftest import Site, next_saturday, opened, seoul
from tests.web.test_manager_pages import _book, _citizen, _manager, _sign_in

pytestmark = pytest.mark.slow

SHOWN = "Lift maintenance (shown) 4e1b"
INTERNAL = "Mayor's closed meeting (internal) 8d2c"


def test_without_javascript_a_manager_approves_a_request_and_adds_closures_shown_or_internal(
    browser: Browser, site: Site
) -> None:
    manager, institution = _manager(site)
    room = site.run(
        create_room(site.pool, institution, name="세미나실", lead_minutes=0, requires_approval=True)
    )
    saturday = next_saturday()
    request = _book(site, _citizen(site), room, seoul(saturday, 10), hours=2)
    closed_shown, closed_internal = saturday + timedelta(days=7), saturday + timedelta(days=8)

    with opened(browser, "en", javascript=False) as page:
        _sign_in(page, site, manager.email)
        expect(page).to_have_url(re.compile(r"/manage"))

        # Decide: the request's own "Approve" button posts the form and comes back (303).
        page.goto(f"{site.url}/manage/{institution}/decide")
        page.get_by_role("button", name=re.compile(r"^Approve ")).first.click()
        page.wait_for_load_state()
        expect(page.get_by_role("status")).to_be_visible()
        expect(page.get_by_text("No requests are waiting.")).to_be_visible()
        status = site.run(site.pool.fetchval("SELECT status FROM bookings WHERE id = $1", request))
        assert status == "confirmed"

        # The week calendar shows it, in marks and words, with a link to the booking.
        page.goto(f"{site.url}/manage/{institution}/calendar?week={saturday.isoformat()}")
        taken = page.locator(".seg-taken").first
        expect(taken).to_contain_text("10:00–12:00")
        expect(taken.get_by_role("link")).to_have_attribute("href", re.compile(f"#b-{request}$"))

        # Closures: one shown to citizens (the radio), one left internal (the default).
        for day, reason, shown in ((closed_shown, SHOWN, True), (closed_internal, INTERNAL, False)):
            page.goto(f"{site.url}/manage/{institution}/rooms/{room}/closures")
            expect(page.get_by_label(re.compile("^Internal"))).to_be_checked()
            page.locator("#f-start_date").fill(day.isoformat())
            page.locator("#f-start_time").fill("09:00")
            page.locator("#f-end_date").fill(day.isoformat())
            page.locator("#f-end_time").fill("18:00")
            page.locator("#f-reason").fill(reason)
            if shown:  # KRDS draws the radio on its label
                page.locator("label", has_text="Shown to citizens").click()
                expect(page.get_by_label(re.compile("^Shown to citizens"))).to_be_checked()
            page.get_by_role("button", name="Add the closure").click()
            page.wait_for_load_state()
            expect(page.get_by_role("status")).to_be_visible()
        cards = page.locator(".booking-card")
        expect(cards.filter(has_text=SHOWN)).to_contain_text("Shown to citizens")
        expect(cards.filter(has_text=INTERNAL)).to_contain_text("Internal")

    flags = site.run(
        site.pool.fetch(
            "SELECT reason, reason_public FROM closures WHERE room_id = $1 ORDER BY lower(during)",
            room,
        )
    )
    assert [(r["reason"], r["reason_public"]) for r in flags] == [(SHOWN, True), (INTERNAL, False)]

    # A citizen (signed out, scripts off too) sees the shown reason on the room page only.
    with opened(browser, "en", javascript=False) as citizen:
        citizen.goto(f"{site.url}/rooms/{room}?week={closed_shown.isoformat()}")
        expect(citizen.get_by_text(f"09:00–18:00 closed: {SHOWN}")).to_be_visible()
        assert INTERNAL not in citizen.content()
