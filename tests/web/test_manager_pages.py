"""The manager and admin pages in a real browser: a manager publishes a room and its hours, a
citizen books it, the manager approves and checks them in on the day; closures over bookings;
walk-ins; who may open what; the use figures against SQL; axe-core and screenshots of every
manager and admin page in both languages."""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from redis import Redis

from booking.reservations import service as reservations
from booking.web.clock import TEST_CLOCK_KEY
from schemas.reservations import BookingCreate
from tests.conftest import REDIS_URL
from tests.factories import (
    User,
    appoint_manager,
    create_institution,
    create_room,
    create_user,
    set_weekly_rules,
)
from tests.web.conftest import PASSWORD, SEOUL, Site, next_saturday, opened, seoul, sign_up

pytestmark = pytest.mark.slow

T = {
    "ko": {
        "add_room": "공간 추가",
        "name": "이름 (한국어)",
        "capacity": "수용 인원 (명)",
        "approval": "예약마다 제 승인이 필요합니다",
        "add": "공간 추가하기",
        "add_row": "줄 추가",
        "opens": "여는 시각",
        "closes": "닫는 시각",
        "show_week": "한 주 미리 보기",
        "save_hours": "운영 시간 저장",
        "people": "인원",
        "agree": "이 공간의 이용 규칙에 동의합니다",
        "book": "예약하기",
        "approve": "승인",
        "check_in": "도착: 입실 확인",
        "checked_in": "입실 확인",
        "slot": "예약",
    },
    "en": {
        "add_room": "Add a room",
        "name": "Name (Korean)",
        "capacity": "Capacity (people)",
        "approval": "Each booking needs my approval",
        "add": "Add the room",
        "add_row": "Add a row",
        "opens": "Opens at",
        "closes": "Closes at",
        "show_week": "Show the week",
        "save_hours": "Save the opening hours",
        "people": "Number of people",
        "agree": "I agree to the rules of this room",
        "book": "Book this room",
        "approve": "Approve",
        "check_in": "Arrived: check in",
        "checked_in": "Checked in",
        "slot": "book",
    },
}


def _manager(site: Site, district: str = "마포구") -> tuple[User, uuid.UUID]:
    async def make() -> tuple[User, uuid.UUID]:
        institution = await create_institution(
            site.pool, name=f"합정{secrets.randbelow(90) + 10}동 주민센터", district=district
        )
        user = await create_user(site.pool, site.settings, role="manager", name="김관리")
        await appoint_manager(site.pool, institution, user)
        return user, institution

    return site.run(make())


def _citizen(site: Site) -> User:
    return site.run(create_user(site.pool, site.settings, name="이시민"))


def _sign_in(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/sign-in?next=/manage")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("form.narrow-form button[type=submit]").click()
    page.wait_for_load_state()


def _wait_for_mail(
    site: Site, email: str, want: Callable[[EmailMessage], bool], within: float = 20
) -> EmailMessage:
    return site.smtp.wait_for(lambda m: email in m.recipients and want(m.message), within).message


def _invite(message: EmailMessage) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    return b""


def _set_clock(moment: datetime | None) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        if moment is None:
            redis.delete(TEST_CLOCK_KEY)
        else:
            redis.set(TEST_CLOCK_KEY, moment.isoformat())
    finally:
        redis.close()


def _book(site: Site, citizen: User, room: uuid.UUID, start: datetime, hours: int = 1) -> uuid.UUID:
    async def make() -> uuid.UUID:
        answer = await reservations.create_booking(
            site.pool,
            citizen.id,
            BookingCreate(
                room_id=room, start=start, end=start + timedelta(hours=hours), attendees=3
            ),
            None,
        )
        return answer.booking.id

    return site.run(make())


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_manager_publishes_a_room_a_citizen_books_it_the_manager_approves_and_checks_in(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    t = T[lang]
    manager, institution = _manager(site)
    room_name = f"강의실 {secrets.token_hex(2).upper()}"
    saturday = next_saturday()
    with opened(browser, lang) as page:
        _sign_in(page, site, manager.email)
        expect(page).to_have_url(re.compile(f"/manage/{institution}/?$"))
        shoot(page, f"manager-today-empty-{lang}")

        # Rooms -> a new room that needs approval.
        page.goto(f"{site.url}/manage/{institution}/rooms")
        page.get_by_role("link", name=t["add_room"]).click()
        page.get_by_label(t["name"]).fill(room_name)
        page.get_by_label(t["capacity"]).fill("abc")
        page.get_by_role("button", name=t["add"]).click()
        # The API's validation, next to the field, in the page language.
        expect(page.locator("#f-capacity-error")).to_be_visible()
        shoot(page, f"manager-room-form-error-{lang}")
        page.get_by_label(t["capacity"]).fill("30")
        page.locator("label[for=f-requires_approval]").click()
        page.get_by_role("button", name=t["add"]).click()
        page.wait_for_load_state()

        # Weekly windows: Mon-Fri 19:00-22:00 and Sat 09:00-18:00, previewed, then saved.
        expect(page).to_have_url(re.compile(r"/windows$"))
        for day in ("mon", "tue", "wed", "thu", "fri"):
            page.locator(f"label[for=f-days-0-{day}]").click()
        page.locator("#f-start-0").fill("19:00")
        page.locator("#f-end-0").fill("22:00")
        page.get_by_role("button", name=t["add_row"]).click()
        page.locator("label[for=f-days-1-sat]").click()
        page.locator("#f-start-1").fill("09:00")
        page.locator("#f-end-1").fill("18:00")
        page.get_by_role("button", name=t["show_week"], exact=True).last.click()
        expect(page.locator(".week-preview")).to_contain_text("19:00–22:00")
        expect(page.locator(".week-preview")).to_contain_text("09:00–18:00")
        shoot(page, f"manager-windows-{lang}")
        page.get_by_role("button", name=t["save_hours"]).click()
        page.wait_for_load_state()
        expect(page).to_have_url(re.compile(r"/rooms$"))
        shoot(page, f"manager-rooms-{lang}")
        room_id = site.run(site.pool.fetchval("SELECT id FROM rooms WHERE name = $1", room_name))

        # A citizen, in a second browser context, books Saturday 10:00-12:00.
        with opened(browser, lang) as citizen_page:
            email = sign_up(citizen_page, site, lang)
            citizen_page.goto(f"{site.url}/rooms/{room_id}?week={saturday.isoformat()}")
            # The slot is named by the room as the page shows it (in English, the romanized name
            # when the manager gave none) and its time.
            citizen_page.get_by_role(
                "link", name=re.compile(rf"^\S.* 10:00–11:00 {t['slot']}$")
            ).first.click()
            citizen_page.wait_for_load_state()
            citizen_page.locator("#f-end").select_option(f"{saturday.isoformat()}T12:00:00+09:00")
            citizen_page.get_by_label(t["people"]).fill("8")
            citizen_page.locator("label[for=f-agree]").click()
            citizen_page.get_by_role("button", name=t["book"]).click()
            citizen_page.wait_for_load_state()
            expect(citizen_page.locator(".status-pending").first).to_be_visible()

        # Today lists the request; the manager approves it on the decisions page.
        page.goto(f"{site.url}/manage/{institution}/")
        expect(page.locator("#pending-title")).to_contain_text("(1)")
        shoot(page, f"manager-today-{lang}")
        page.goto(f"{site.url}/manage/{institution}/decide")
        shoot(page, f"manager-decide-{lang}")
        page.get_by_role("button", name=re.compile(f"^{t['approve']} ")).first.click()
        page.wait_for_load_state()
        expect(page.get_by_role("status")).to_be_visible()

        # The citizen's confirmation (with its invitation) arrives at the SMTP server.
        mail = _wait_for_mail(site, email, lambda m: b"METHOD:REQUEST" in _invite(m))
        assert "approved" in str(mail["Subject"])

        # The week calendar shows the booking (by words and marks, not colour alone).
        page.goto(f"{site.url}/manage/{institution}/calendar?week={saturday.isoformat()}")
        expect(page.locator(".seg-taken").first).to_contain_text("10:00–12:00")
        shoot(page, f"manager-calendar-{lang}")

        # On the day (the test sets the pages' clock): the front desk checks them in.
        _set_clock(seoul(saturday, 10, 5))
        try:
            page.goto(f"{site.url}/manage/{institution}/desk?day={saturday.isoformat()}")
            shoot(page, f"manager-desk-{lang}")
            page.get_by_role("button", name=re.compile(f"^{t['check_in']}")).first.click()
            page.wait_for_load_state()
            expect(page.locator(".status-checked_in").first).to_have_text(t["checked_in"])
        finally:
            _set_clock(None)

        # The other pages of the day's work, checked and photographed.
        for path, name in (
            ("/bookings", "bookings"),
            ("/use", "use"),
            (f"/rooms/{room_id}", "room-edit"),
            (f"/rooms/{room_id}/closures", "closures"),
        ):
            page.goto(f"{site.url}/manage/{institution}{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            shoot(page, f"manager-{name}-{lang}")


def test_a_closure_over_two_bookings_cancels_them_and_both_citizens_are_told(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None]
) -> None:
    manager, institution = _manager(site)
    room = site.run(create_room(site.pool, institution, name="다목적실", lead_minutes=0))
    day = next_saturday() + timedelta(days=7)
    first, second = _citizen(site), _citizen(site)
    a = _book(site, first, room, seoul(day, 10))
    b = _book(site, second, room, seoul(day, 14))
    with opened(browser, "ko") as page:
        _sign_in(page, site, manager.email)
        page.goto(f"{site.url}/manage/{institution}/rooms/{room}/closures")
        page.locator("#f-start_date").fill(day.isoformat())
        page.locator("#f-end_date").fill(day.isoformat())
        page.locator("#f-reason").fill("배관 공사")
        page.get_by_role("button", name="휴관 추가").click()
        page.wait_for_load_state()
        # The closure is refused for now and shows the two bookings it hits.
        expect(page.locator("#hits-title")).to_contain_text("2")
        expect(page.locator(".desk-booking")).to_have_count(2)
        shoot(page, "manager-closure-hits-ko")
        page.get_by_role("button", name="휴관하고 이 예약들을 취소").click()
        page.wait_for_load_state()
        expect(page.locator("#f-cancellation_reason-error")).to_be_visible()
        page.locator("#f-cancellation_reason").fill("긴급 배관 공사로 휴관합니다")
        page.get_by_role("button", name="휴관하고 이 예약들을 취소").click()
        page.wait_for_load_state()
        expect(page.get_by_role("status")).to_be_visible()

    statuses = site.run(
        site.pool.fetch(
            "SELECT b.status, h.reason FROM bookings b JOIN booking_history h"
            " ON h.booking_id = b.id AND h.to_status = 'cancelled' WHERE b.id = ANY($1::uuid[])",
            [a, b],
        )
    )
    assert [(r["status"], r["reason"]) for r in statuses] == [
        ("cancelled", "긴급 배관 공사로 휴관합니다")
    ] * 2
    for citizen in (first, second):
        _wait_for_mail(site, citizen.email, lambda m: b"METHOD:CANCEL" in _invite(m))


def test_walk_in_booking_holds_the_slot_like_any_other(browser: Browser, site: Site) -> None:
    manager, institution = _manager(site)
    room = site.run(create_room(site.pool, institution, name="소회의실", lead_minutes=120))
    day = next_saturday() + timedelta(days=14)
    with opened(browser, "ko") as page:
        _sign_in(page, site, manager.email)
        page.goto(f"{site.url}/manage/{institution}/desk?day={day.isoformat()}")
        page.locator("#f-start").fill("15:00")
        page.locator("#f-end").fill("17:00")
        page.locator("#f-attendees").fill("4")
        page.locator("#f-person").fill("박어르신")
        page.locator("#f-phone").fill("010-1234-5678")
        page.locator("#f-email").fill("walkin@example.org")
        page.get_by_role("button", name="이 분을 위해 예약").click()
        page.wait_for_load_state()
        expect(page.get_by_role("status")).to_be_visible()
        expect(page.locator(".desk-booking")).to_contain_text("박어르신")
        expect(page.locator(".desk-booking")).to_contain_text("010-1234-5678")
        # The bookings list exports it as CSV, UTF-8 with a BOM (Excel in Korea reads it).
        csv = page.request.get(f"{site.url}/manage/{institution}/bookings.csv?room={room}")
        assert csv.status == 200
        assert csv.headers["content-type"].startswith("text/csv")
        body = csv.body()
        assert body.startswith(b"\xef\xbb\xbf")
        assert "박어르신" in body.decode("utf-8")
        # The same time again at the desk: the constraint refuses it (alternatives offered).
        page.locator("#f-start").fill("16:00")
        page.locator("#f-end").fill("17:00")
        page.locator("#f-attendees").fill("2")
        page.locator("#f-person").fill("최주민")
        page.locator("#f-phone").fill("010-9999-0000")
        page.get_by_role("button", name="이 분을 위해 예약").click()
        page.wait_for_load_state()
        expect(page.locator("#error-summary")).to_be_visible()

    # A citizen asking for the same time meets the walk-in booking (409 slot-taken).
    citizen = _citizen(site)
    with pytest.raises(Exception) as refused:
        _book(site, citizen, room, seoul(day, 16))
    assert getattr(refused.value, "code", None) == "slot-taken"
    # The walk-in person gave an e-mail address: the same confirmation reaches them.
    _wait_for_mail(site, "walkin@example.org", lambda m: b"METHOD:REQUEST" in _invite(m))
    count = site.run(
        site.pool.fetchval("SELECT count(*) FROM bookings WHERE room_id = $1 AND holds_slot", room)
    )
    assert count == 1


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match, path
    return match.group(1)


@contextlib.contextmanager
def _signed_in_client(site: Site, email: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=20) as client:
        token = _csrf(client, "/sign-in")
        answer = client.post(
            "/sign-in",
            data={"_csrf_token": token, "email": email, "password": PASSWORD, "next": "/"},
        )
        assert answer.status_code == 303
        yield client


def test_managers_see_only_their_institution_citizens_see_no_manager_page_csrf_is_required(
    site: Site,
) -> None:
    manager_a, institution_a = _manager(site)
    _, institution_b = _manager(site)
    room_b = site.run(create_room(site.pool, institution_b, name="B 회의실"))
    citizen = _citizen(site)
    booking_b = _book(site, citizen, room_b, seoul(next_saturday() + timedelta(days=21), 10))
    closure = uuid.uuid4()
    before = site.run(site.pool.fetchval("SELECT count(*) FROM booking_history"))
    b = f"/manage/{institution_b}"
    pages = [
        "/",
        "/calendar",
        "/rooms",
        "/rooms/new",
        f"/rooms/{room_b}",
        f"/rooms/{room_b}/windows",
        f"/rooms/{room_b}/closures",
        "/decide",
        "/desk",
        "/bookings",
        "/bookings.csv",
        "/use",
    ]
    forms = [
        "/rooms/new",
        f"/rooms/{room_b}",
        f"/rooms/{room_b}/active",
        f"/rooms/{room_b}/windows",
        f"/rooms/{room_b}/closures",
        f"/rooms/{room_b}/closures/{closure}/delete",
        f"/rooms/{room_b}/holidays",
        "/decide",
        f"/desk/{booking_b}/check-in",
        f"/desk/{booking_b}/no-show",
        "/desk/walk-in",
    ]
    with _signed_in_client(site, manager_a.email) as client:
        token = _csrf(client, f"/manage/{institution_a}/rooms/new")
        for path in pages:
            assert client.get(b + path).status_code == 404, path
        for path in forms:
            answer = client.post(
                b + path,
                data={
                    "_csrf_token": token,
                    "name": "x",
                    "capacity": "3",
                    "active": "no",
                    "ids": str(booking_b),
                    "action": "approve",
                    "room": str(room_b),
                    "start": "10:00",
                    "end": "11:00",
                    "attendees": "1",
                    "person": "x",
                    "phone": "010-0000-0000",
                },
            )
            assert answer.status_code == 404, path
        # Own institution, a room of another one in the address: 404 too.
        assert client.get(f"/manage/{institution_a}/rooms/{room_b}").status_code == 404
        # A form post without the CSRF token is refused and changes nothing.
        refused = client.post(f"/manage/{institution_a}/rooms/new", data={"name": "몰래"})
        assert refused.status_code == 403
        # The admin pages are not a manager's.
        assert client.get("/admin").status_code == 404
    with _signed_in_client(site, citizen.email) as client:
        assert client.get(f"/manage/{institution_a}/").status_code == 404
        assert client.get("/manage").status_code == 404
    after = site.run(site.pool.fetchval("SELECT count(*) FROM booking_history"))
    assert after == before
    status = site.run(site.pool.fetchval("SELECT status FROM bookings WHERE id = $1", booking_b))
    assert status == "confirmed"
    active = site.run(site.pool.fetchval("SELECT active FROM rooms WHERE id = $1", room_b))
    assert active is True
    names = site.run(site.pool.fetchval("SELECT count(*) FROM rooms WHERE name = '몰래'"))
    assert names == 0


def _last_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def test_use_figures_equal_an_sql_computation_of_the_same_month(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None]
) -> None:
    manager, institution = _manager(site)
    room = site.run(create_room(site.pool, institution, name="대강당", always_open=False))
    site.run(set_weekly_rules(site.pool, room, [([1, 2, 3, 4, 5], "09:00", "21:00")]))
    month = _last_month(datetime.now(SEOUL).date())
    citizen = _citizen(site)
    # A generated month: bookings on every day at 10, 13, 19 h (1-2 h), statuses by rotation.
    site.run(
        site.pool.execute(
            """
            INSERT INTO bookings (room_id, citizen_id, during, status, attendees)
            SELECT $1, $2,
                   tstzrange(((d + make_interval(hours => h::int)) AT TIME ZONE 'Asia/Seoul'),
                             ((d + make_interval(hours => (h + 1 + (n % 2))::int)) AT TIME ZONE 'Asia/Seoul'),
                             '[)'),
                   (ARRAY['completed', 'cancelled', 'no_show', 'completed', 'rejected'])[n % 5 + 1],
                   2
            FROM generate_series($3::date::timestamp, ($3::date + interval '1 month' - interval '1 day'),
                                 interval '1 day') AS d,
                 unnest(ARRAY[10, 13, 19]) WITH ORDINALITY AS t(h, n)
            """,
            room,
            citizen.id,
            month,
        )
    )
    expected = site.run(
        site.pool.fetchrow(
            """
            WITH m AS (SELECT ($2::date)::timestamp AT TIME ZONE 'Asia/Seoul' AS lo,
                              ($2::date + interval '1 month')::timestamp AT TIME ZONE 'Asia/Seoul' AS hi)
            SELECT
              (SELECT sum(extract(epoch FROM upper(o) - lower(o))) / 3600
               FROM m, unnest(room_open_time($1, tstzrange(m.lo, m.hi))) o) AS open_hours,
              (SELECT sum(extract(epoch FROM upper(during) - lower(during))) / 3600 FROM bookings, m
               WHERE room_id = $1 AND status NOT IN ('cancelled', 'rejected')
                 AND lower(during) >= m.lo AND lower(during) < m.hi) AS booked_hours,
              (SELECT count(*) FROM bookings, m WHERE room_id = $1
                 AND status NOT IN ('cancelled', 'rejected') AND lower(during) >= m.lo
                 AND lower(during) < m.hi) AS bookings,
              (SELECT count(*) FROM bookings, m WHERE room_id = $1 AND status = 'no_show'
                 AND lower(during) >= m.lo AND lower(during) < m.hi) AS no_shows,
              (SELECT count(*) FROM bookings, m WHERE room_id = $1 AND status = 'cancelled'
                 AND lower(during) >= m.lo AND lower(during) < m.hi) AS cancellations
            """,
            room,
            month,
        )
    )
    assert expected is not None
    for lang in ("ko", "en"):
        with opened(browser, lang) as page:
            _sign_in(page, site, manager.email)
            page.goto(f"{site.url}/manage/{institution}/use?room={room}")
            row = page.locator(f'tr[data-month="{month.isoformat()}"]')

            def cell(key: str, row: Locator = row) -> str:
                return row.locator(f'td[data-k="{key}"]').inner_text().rstrip("%")

            assert float(cell("open")) == pytest.approx(float(expected["open_hours"]), abs=0.05)
            assert float(cell("booked")) == pytest.approx(float(expected["booked_hours"]), abs=0.05)
            rate = 100 * float(expected["booked_hours"]) / float(expected["open_hours"])
            assert float(cell("rate")) == pytest.approx(rate, abs=0.05)
            assert int(cell("bookings")) == expected["bookings"]
            assert int(cell("no_shows")) == expected["no_shows"]
            assert int(cell("cancellations")) == expected["cancellations"]
            # The chart carries the same number as text on its bar.
            expect(page.locator("figure.chart svg").first).to_contain_text(f"{rate:.1f}")
            shoot(page, f"manager-use-figures-{lang}")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_admin_pages_pass_axe_and_are_photographed(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    admin = site.run(create_user(site.pool, site.settings, role="admin", name="관리자"))
    _, institution = _manager(site)
    with opened(browser, lang) as page:
        _sign_in(page, site, admin.email)
        for path, name in (
            ("/admin", "system"),
            ("/admin/institutions", "institutions"),
            ("/admin/institutions/new", "institution-new"),
            (f"/admin/institutions/{institution}", "institution-edit"),
            (f"/admin/institutions/{institution}/managers?q=example", "managers"),
            ("/admin/jobs", "jobs"),
            ("/manage", "manage-home"),
        ):
            page.goto(f"{site.url}{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            shoot(page, f"admin-{name}-{lang}")
        # A new institution with its district from the picker.
        page.goto(f"{site.url}/admin/institutions/new")
        page.locator("#f-name").fill(f"연남{secrets.randbelow(90)}동 주민센터")
        page.locator("#f-district").select_option("마포구")
        page.locator("form.narrow-form button[type=submit]").click()
        page.wait_for_load_state()
        expect(page).to_have_url(re.compile(r"/managers$"))
