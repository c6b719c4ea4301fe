"""The fair-allocation pages in a real browser, in Korean and in English: a manager creates and
publishes a round (its commitment shown), a citizen applies, withdraws and applies again, the
draw (run through the service with a controlled clock, as tests/allocation do) shows its winner,
waitlist and a seed whose SHA-256 is the commitment, the loser accepts the offer when the winner
cancels, waitlists are joined from the week view, and a suspended citizen sees the end date.
Every new page is checked by axe-core and photographed at 360 and 1280 px."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from booking.allocation import service
from booking.reservations import service as reservations
from schemas.allocation import RoundCreate, SlotRange
from schemas.reservations import BookingCreate
from tests.allocation.helpers import as_principal
from tests.factories import User, appoint_manager, create_institution, create_room, create_user
from tests.web.conftest import PASSWORD, SEOUL, Site, opened, seed_room, seoul, sign_up

pytestmark = pytest.mark.slow

TEXT = {
    "ko": {
        "email": "이메일 주소",
        "password": "비밀번호",
        "sign_in": "로그인",
        "rounds": "추첨 회차",
        "new": "새 회차",
        "save": "초안 저장",
        "publish": "회차 공개하기",
        "published": "회차를 공개했습니다",
        "bad_line": "2번째 줄이 2026-12-05 13:00-17:00 형식이 아닙니다.",
        "see_apply": "시간 보고 신청하기",
        "apply": "신청하기",
        "choose": "이 회차의 시간 중 하나를 고르세요.",
        "applied": "신청이 접수되었습니다",
        "withdraw": "신청 취소",
        "withdrawn": "신청을 취소했습니다.",
        "used_all": "신청할 수 있는 횟수를 모두 썼습니다",
        "winner": "당첨자",
        "you": "(나)",
        "verify": "이 추첨을 검증하는 방법",
        "held": "까지 나를 위해 잡아 둠",
        "accept": "수락",
        "confirmed": "예약 확정",
        "join": "대기 신청",
        "waiting": "대기자 명단에 올랐습니다",
        "place": "대기 순번: 1",
        "leave": "대기 취소",
        "left": "대기를 취소했습니다.",
        "suspended": "까지 예약이 정지되었습니다.",
        "refused": "까지 예약과 신청이 정지되었습니다",
        "cancel": "예약 취소",
        "yes": "네, 취소합니다",
    },
    "en": {
        "email": "E-mail address",
        "password": "Password",
        "sign_in": "Sign in",
        "rounds": "Lottery rounds",
        "new": "New round",
        "save": "Save the draft",
        "publish": "Publish the round",
        "published": "The round is published",
        "bad_line": "Line 2 is not like 2026-12-05 13:00-17:00.",
        "see_apply": "See the times and apply",
        "apply": "Apply",
        "choose": "Choose one of this round's slots.",
        "applied": "Your application is in.",
        "withdraw": "Withdraw",
        "withdrawn": "Your application is withdrawn.",
        "used_all": "You have used all your applications",
        "winner": "Winner",
        "you": "(you)",
        "verify": "How to verify this draw",
        "held": "Held for you until",
        "accept": "Accept",
        "confirmed": "Booking confirmed",
        "join": "Join the waitlist",
        "waiting": "You are on the waitlist.",
        "place": "Place in line: 1",
        "leave": "Leave the waitlist",
        "left": "You left the waitlist.",
        "suspended": "Booking is suspended until",
        "refused": "Booking and applying are suspended until",
        "cancel": "Cancel the booking",
        "yes": "Yes, cancel it",
    },
}


@dataclass(frozen=True)
class Lottery:
    institution_id: uuid.UUID
    room_id: uuid.UUID
    manager: User


def _lottery(site: Site) -> Lottery:
    async def make() -> Lottery:
        institution = await create_institution(site.pool, name="마포구청", district="마포구")
        room = await create_room(
            site.pool,
            institution,
            name="대강당",
            horizon_days=3650,
            lead_minutes=0,
            max_active_per_citizen=1000,
        )
        await site.pool.execute("UPDATE rooms SET allocation_mode = 'lottery' WHERE id = $1", room)
        manager = await create_user(site.pool, site.settings, role="manager", name="관리자")
        await appoint_manager(site.pool, institution, manager)
        return Lottery(institution, room, manager)

    return site.run(make())


def _slot_days(count: int) -> list[SlotRange]:
    """``count`` afternoons, 13:00–17:00 KST, from ten days ahead."""
    first = datetime.now(SEOUL).date() + timedelta(days=10)
    return [
        SlotRange(
            start=seoul(first + timedelta(days=n), 13), end=seoul(first + timedelta(days=n), 17)
        )
        for n in range(count)
    ]


def _open_round(site: Site, lottery: Lottery, slots: int, max_applications: int) -> uuid.UUID:
    """A published round, open now (real time: the pages use it), drawn in two days."""
    now = datetime.now(UTC)
    manager = as_principal(lottery.manager, (lottery.institution_id,))

    async def make() -> uuid.UUID:
        created = await service.create_round(
            site.pool,
            manager,
            lottery.room_id,
            RoundCreate(
                title="12월 주말 대강당 추첨",
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=1),
                draw_at=now + timedelta(days=2),
                slots=_slot_days(slots),
                max_applications_per_citizen=max_applications,
            ),
            now,
        )
        await service.publish_round(site.pool, manager, created.id, now)
        return created.id

    return site.run(make())


def _citizen(site: Site) -> User:
    return site.run(create_user(site.pool, site.settings, name="이시민"))


def _sign_in(page: Page, site: Site, lang: str, user: User, next_path: str = "/") -> None:
    text = TEXT[lang]
    page.goto(f"{site.url}/sign-in?next={next_path}")
    page.get_by_label(text["email"]).fill(user.email)
    page.get_by_label(text["password"]).fill(PASSWORD)
    page.locator("main").get_by_role("button", name=text["sign_in"]).click()
    page.wait_for_load_state()


def _local(moment: datetime) -> str:
    return moment.astimezone(SEOUL).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_manager_creates_and_publishes_a_round_and_sees_its_commitment(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    text = TEXT[lang]
    lottery = _lottery(site)
    now = datetime.now(UTC)
    slots = _slot_days(2)
    with opened(browser, lang) as page:
        _sign_in(page, site, lang, lottery.manager)
        page.locator(".site-nav").get_by_role("link", name=text["rounds"]).click()
        expect(page.locator("h1")).to_have_text(text["rounds"])
        shoot(page, f"lottery-manage-rounds-{lang}")
        page.get_by_role("link", name=re.compile(text["new"])).click()
        page.locator("#f-title").fill("12월 주말 추첨")
        page.locator("#f-opens_at").fill(_local(now - timedelta(hours=1)))
        page.locator("#f-closes_at").fill(_local(now + timedelta(days=1)))
        page.locator("#f-draw_at").fill(_local(now + timedelta(days=2)))
        page.locator("#f-max_applications").fill("2")
        # A line that is not a time: the message sits next to the field, in the page language.
        page.locator("#f-slots").fill("2026-12-05 13:00-17:00\nSaturday afternoon")
        page.get_by_role("button", name=text["save"]).click()
        expect(page.locator("#f-slots-error")).to_contain_text(text["bad_line"])
        expect(page.locator("#f-slots")).to_have_attribute("aria-invalid", "true")
        shoot(page, f"lottery-round-form-error-{lang}")
        lines = "\n".join(
            f"{s.start.astimezone(SEOUL):%Y-%m-%d %H:%M}-{s.end.astimezone(SEOUL):%H:%M}"
            for s in slots
        )
        page.locator("#f-slots").fill(lines)
        page.get_by_role("button", name=text["save"]).click()
        page.wait_for_load_state()
        assert "/manage/rounds/" in page.url
        shoot(page, f"lottery-manage-draft-{lang}")
        page.get_by_role("button", name=text["publish"]).click()
        expect(page.locator(".notice-success")).to_contain_text(text["published"])
        round_id = uuid.UUID(page.url.split("/manage/rounds/")[1].split("?")[0])
        commitment = page.locator(".commitment").inner_text().strip()
        shoot(page, f"lottery-manage-published-{lang}")

    seed: bytes = site.run(
        site.pool.fetchval("SELECT seed FROM allocation_rounds WHERE id = $1", round_id)
    )
    assert commitment == hashlib.sha256(seed).hexdigest()
    count = site.run(
        site.pool.fetchval("SELECT count(*) FROM allocation_slots WHERE round_id = $1", round_id)
    )
    assert count == 2


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_citizen_applies_to_an_open_round_withdraws_and_applies_again(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    text = TEXT[lang]
    lottery = _lottery(site)
    round_id = _open_round(site, lottery, slots=3, max_applications=1)
    with opened(browser, lang) as page:
        sign_up(page, site, lang)
        page.goto(f"{site.url}/rooms/{lottery.room_id}")
        shoot(page, f"lottery-room-{lang}")
        page.get_by_role("link", name=re.compile(text["see_apply"])).click()
        expect(page).to_have_url(re.compile(f"/rounds/{round_id}"))
        # Sent without a choice: the message is next to the question.
        page.get_by_role("button", name=text["apply"], exact=True).click()
        expect(page.locator("#f-slot_id-error")).to_contain_text(text["choose"])
        shoot(page, f"lottery-apply-error-{lang}")
        page.locator("label[for=f-slot_id-2]").click()
        page.get_by_role("button", name=text["apply"], exact=True).click()
        expect(page.locator(".notice-success")).to_contain_text(text["applied"])
        # One application per person in this round: no form for a second one.
        expect(page.locator("main")).to_contain_text(text["used_all"])
        shoot(page, f"lottery-round-applied-{lang}")
        page.get_by_role("button", name=re.compile(text["withdraw"])).click()
        expect(page.locator(".notice-success")).to_contain_text(text["withdrawn"])
        page.locator("label[for=f-slot_id-1]").click()
        page.get_by_role("button", name=text["apply"], exact=True).click()
        expect(page.locator(".notice-success")).to_contain_text(text["applied"])
        page.goto(f"{site.url}/my/applications")
        expect(page.locator("#lotteries + ul")).to_contain_text("12월 주말 대강당 추첨")
        shoot(page, f"lottery-my-applications-{lang}")

    rows = site.run(
        site.pool.fetch(
            "SELECT s.position, a.withdrawn_at IS NOT NULL AS withdrawn"
            " FROM allocation_applications a JOIN allocation_slots s ON s.id = a.slot_id"
            " WHERE a.round_id = $1 ORDER BY a.created_at",
            round_id,
        )
    )
    assert [(r["position"], r["withdrawn"]) for r in rows] == [(2, True), (1, False)]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_draw_shows_winner_waitlist_and_seed_and_the_loser_accepts_the_freed_slot(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    text = TEXT[lang]
    lottery = _lottery(site)
    round_id = _open_round(site, lottery, slots=1, max_applications=1)
    citizens = [_citizen(site), _citizen(site)]
    found = site.run(service.get_round(site.pool, None, round_id, datetime.now(UTC)))
    slot_id = found.slots[0].id
    for citizen in citizens:
        site.run(
            service.apply(site.pool, as_principal(citizen), round_id, slot_id, datetime.now(UTC))
        )
    # The draw at its time, through the service (the clock is the draw time, not today).
    assert site.run(service.draw_round(site.pool, round_id, found.draw_at)) == "drawn"
    outcomes = {
        c.id: site.run(service.my_applications(site.pool, as_principal(c), round_id))[0]
        for c in citizens
    }
    winner = next(c for c in citizens if outcomes[c.id].outcome == "won")
    loser = next(c for c in citizens if outcomes[c.id].outcome == "waitlisted")

    with opened(browser, lang) as page:
        _sign_in(page, site, lang, loser)
        page.goto(f"{site.url}/rounds/{round_id}/result")
        main = page.locator("main")
        expect(main).to_contain_text(text["verify"])
        expect(main).to_contain_text("scripts/verify_draw.py")
        expect(main).to_contain_text(f"/v1/rounds/{round_id}/result")
        expect(page.locator(".winner")).to_contain_text(outcomes[winner.id].pseudonym)
        expect(page.locator("ol.waitlist")).to_contain_text(outcomes[loser.id].pseudonym)
        expect(page.locator("ol.waitlist")).to_contain_text(text["you"])
        digests = page.locator(".summary-box .digest").all_inner_texts()
        commitment, seed = digests[0], digests[1]
        assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == commitment
        assert commitment == found.seed_commitment
        assert loser.email not in page.content() and str(loser.id) not in page.content()
        shoot(page, f"lottery-result-{lang}")

    with opened(browser, lang) as page:
        _sign_in(page, site, lang, winner, "/my/bookings")
        page.locator(".booking-card-title a").first.click()
        page.get_by_role("link", name=text["cancel"]).click()
        page.get_by_role("button", name=text["yes"]).click()
        page.wait_for_load_state()
    # The worker's tick offers the freed slot too; asking now makes the test independent of it.
    site.run(service.offer_freed_slots(site.pool, datetime.now(UTC)))

    with opened(browser, lang) as page:
        _sign_in(page, site, lang, loser, "/my/applications")
        offer = page.locator(".offer-card")
        expect(offer).to_contain_text(text["held"])
        shoot(page, f"lottery-offer-{lang}")
        offer.get_by_role("button", name=re.compile(text["accept"])).click()
        expect(page.locator("h1")).to_have_text(text["confirmed"])
    status = site.run(
        site.pool.fetchval(
            "SELECT status FROM bookings WHERE room_id = $1 AND citizen_id = $2",
            lottery.room_id,
            loser.id,
        )
    )
    assert status == "confirmed"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_citizen_joins_and_leaves_a_taken_slots_waitlist_from_the_week_view(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    text = TEXT[lang]
    room = seed_room(site)
    holder = _citizen(site)
    day = datetime.now(SEOUL).date() + timedelta(days=2)
    site.run(
        reservations.create_booking(
            site.pool,
            holder.id,
            BookingCreate(
                room_id=room.id, start=seoul(day, 10), end=seoul(day, 11), attendees=3, purpose=""
            ),
            None,
        )
    )
    with opened(browser, lang) as page:
        sign_up(page, site, lang)
        page.goto(f"{site.url}/rooms/{room.id}?week={day.isoformat()}")
        page.get_by_role(
            "link", name=re.compile(f"{text['join']} {re.escape(room.shown(lang))} 10:00")
        ).click()
        shoot(page, f"lottery-join-waitlist-{lang}")
        page.locator("main").get_by_role("button", name=text["join"]).click()
        expect(page.locator(".notice-success")).to_contain_text(text["waiting"])
        expect(page.locator("#waiting + ul")).to_contain_text(text["place"])
        page.get_by_role("button", name=re.compile(text["leave"])).click()
        expect(page.locator(".notice-success")).to_contain_text(text["left"])


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_suspended_citizen_sees_the_end_date_and_cannot_apply(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    text = TEXT[lang]
    lottery = _lottery(site)
    round_id = _open_round(site, lottery, slots=2, max_applications=2)
    citizen = _citizen(site)
    now = datetime.now(UTC)

    async def strike_three_times() -> None:
        for days in (20, 10, 1):
            await site.pool.execute(
                "INSERT INTO strikes (citizen_id, institution_id, kind, weight, at)"
                " VALUES ($1, $2, 'no_show', 1.0, $3)",
                citizen.id,
                lottery.institution_id,
                now - timedelta(days=days),
            )

    site.run(strike_three_times())
    until = site.run(service.my_strikes(site.pool, as_principal(citizen), now)).suspended_until
    assert until is not None
    local = until.astimezone(SEOUL)
    day = f"{local.month}월 {local.day}일" if lang == "ko" else f"{local.day} {local:%b}"
    with opened(browser, lang) as page:
        _sign_in(page, site, lang, citizen, "/account")
        notice = page.locator(".notice-warning")
        expect(notice).to_contain_text(text["suspended"])
        expect(notice).to_contain_text(day)
        shoot(page, f"lottery-account-suspended-{lang}")
        page.goto(f"{site.url}/rounds/{round_id}")
        page.locator("label[for=f-slot_id-1]").click()
        page.get_by_role("button", name=text["apply"], exact=True).click()
        summary = page.locator("#error-summary")
        expect(summary).to_contain_text(text["refused"])
        expect(summary).to_contain_text(day)
        shoot(page, f"lottery-apply-suspended-{lang}")


def test_hostile_input_to_the_lottery_pages_gets_an_answer_below_500(site: Site) -> None:
    lottery = _lottery(site)
    round_id = _open_round(site, lottery, slots=1, max_applications=1)
    with httpx.Client(base_url=site.url, timeout=15) as client:
        page = client.get("/sign-up")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        csrf = token.group(1)
        answer = client.post(
            "/sign-up",
            data={
                "_csrf_token": csrf,
                "name": "박시민",
                "email": f"h-{uuid.uuid4().hex[:8]}@example.org",
                "password": PASSWORD,
            },
        )
        assert answer.status_code == 303
        for path in (
            f"/rounds/{uuid.uuid4()}",
            f"/rounds/{uuid.uuid4()}/result",
            f"/rounds/{round_id}/result",
            "/waitlist/join?room=x&start=y&end=z",
            f"/waitlist/join?room={lottery.room_id}&start=2026-12-05T10:00:00&end=nope",
            "/manage/rounds",
            f"/manage/rooms/{lottery.room_id}/rounds/new",
            f"/manage/rounds/{round_id}",
            "/my/applications",
        ):
            assert client.get(path).status_code < 500, path
        for path, data in (
            (f"/rounds/{round_id}/apply", {"slot_id": "\x00" * 100}),
            (f"/rounds/{round_id}/apply", {"slot_id": str(uuid.uuid4())}),
            (f"/rounds/{uuid.uuid4()}/apply", {"slot_id": str(uuid.uuid4())}),
            (f"/rounds/{round_id}/applications/{uuid.uuid4()}/withdraw", {}),
            ("/waitlist/join", {"room": str(lottery.room_id), "start": "x", "end": "y"}),
            (
                "/waitlist/join",
                {
                    "room": str(lottery.room_id),
                    "start": "2020-01-01T10:00:00+09:00",
                    "end": "2020-01-01T09:00:00+09:00",
                },
            ),
            ("/waitlist/99999999999999999999/leave", {}),
            ("/waitlist/12345/leave", {}),
            (f"/offers/{uuid.uuid4()}/accept", {}),
            (f"/offers/{uuid.uuid4()}/decline", {}),
            (f"/manage/rooms/{lottery.room_id}/rounds", {"title": "x" * 5000}),
            (f"/manage/rounds/{round_id}/publish", {}),
            (f"/manage/rounds/{round_id}/public-value", {"value": "1 2 3"}),
        ):
            status = client.post(path, data={"_csrf_token": csrf, **data}).status_code
            assert status < 500, (path, status)
