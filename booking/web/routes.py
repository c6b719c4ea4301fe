"""The citizen pages. Each handler parses the form or query, calls the same service function
as the API, and renders a template (or redirects after a successful post)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from booking.accounts import service as accounts
from booking.accounts.security import decode_token
from booking.catalogue import rooms as catalogue_rooms
from booking.catalogue import search as catalogue_search
from booking.catalogue import windows as catalogue_windows
from booking.catalogue.institutions import SEOUL as SEOUL_REGION
from booking.client_address import client_address
from booking.errors import Problem
from booking.feeds import service as feeds
from booking.reservations import lifecycle
from booking.reservations import service as reservations
from booking.web import i18n
from booking.web.allocation import room_rounds, strikes_of
from booking.web.pages import (
    FormErrors,
    PageRequest,
    field_text,
    problem_errors,
    redirect,
    render,
    signed_in,
    wants_part,
)
from booking.web.security import safe_next
from booking.web.sessions import sign_in, sign_out
from booking.web.slots import end_choices, free_starts_of, week_slots
from booking.web.templating import N_
from schemas.accounts import Credentials, Registration
from schemas.catalogue import AMENITIES, SEOUL_DISTRICTS, Room
from schemas.reservations import Booking, BookingCreate

__all__ = ("ROUTES",)

SEOUL = ZoneInfo("Asia/Seoul")
DURATIONS = (60, 120, 180, 240)

AMENITY_LABELS: dict[str, str] = {
    "projector": N_("Projector"),
    "screen": N_("Screen"),
    "microphone": N_("Microphone"),
    "sound_system": N_("Sound system"),
    "whiteboard": N_("Whiteboard"),
    "desks": N_("Desks"),
    "chairs": N_("Chairs"),
    "wifi": N_("Wi-Fi"),
    "air_conditioning": N_("Air conditioning"),
    "piano": N_("Piano"),
    "kitchen": N_("Kitchen"),
    "mirror": N_("Mirror"),
    "parking": N_("Parking"),
}
STATUS_LABELS: dict[str, str] = {
    "pending": N_("Waiting for approval"),
    "confirmed": N_("Confirmed"),
    "rejected": N_("Not approved"),
    "cancelled": N_("Cancelled"),
    "checked_in": N_("Checked in"),
    "no_show": N_("Not used"),
    "completed": N_("Used"),
    "offered": N_("Offered to you"),
}


def _label(labels: dict[str, str], key: str) -> str:
    return i18n.gettext(labels[key]) if key in labels else key


def _room_name(room: Room) -> str:
    if i18n.current.get().code == "en" and room.name_en:
        return room.name_en
    return room.name


def _parse_instant(value: str | None) -> datetime | None:
    if not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _parse_day(value: str | None) -> date | None:
    if not value or len(value) > 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_clock(value: str | None) -> time | None:
    if not value or len(value) > 5:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


def _int(value: str | None, low: int, high: int) -> int | None:
    if value is None or not value.strip().isdigit() or len(value) > 6:
        return None
    number = int(value)
    return number if low <= number <= high else None


def _district_from_text(text: str) -> str | None:
    """A Seoul district named in a typed address, in Korean or English."""
    lowered = text.lower().replace(" ", "")
    for district in SEOUL_DISTRICTS:
        if district in text:
            return district
    for district, english in i18n.DISTRICT_NAMES_EN.items():
        if english.lower().replace("-", "") in lowered.replace("-", ""):
            return district
    return None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class LanguageController(Controller):
    path = "/lang"

    @get("/{code:str}", name="web:lang", include_in_schema=False)
    async def switch(self, request: PageRequest, code: FromPath[str]) -> Redirect:
        """Remember the chosen language in a cookie and go back where the visitor was."""
        target = safe_next(request.query_params.get("next"))
        response = Redirect(target, status_code=303)
        if code in i18n.LANGUAGES:
            response.set_cookie(
                i18n.LANG_COOKIE,
                code,
                max_age=365 * 24 * 3600,
                httponly=True,
                samesite="lax",
                secure=request.app.state.settings.env == "production",
            )
        return response


class AccountController(Controller):
    path = "/"
    include_in_schema = False

    @get("/sign-in", name="web:sign-in")
    async def sign_in_form(self, request: PageRequest) -> Template:
        return await render(
            request,
            "pages/sign_in.html",
            title=i18n.gettext(N_("Sign in")),
            next=safe_next(request.query_params.get("next"), "/my/bookings"),
            email="",
        )

    @post("/sign-in")
    async def sign_in(self, request: PageRequest) -> Template | Redirect:
        form = await request.form()
        email = field_text(form, "email", 320)
        password = str(form.get("password", ""))[:1024]
        target = safe_next(field_text(form, "next", 2000), "/my/bookings")
        errors = FormErrors()
        if not email:
            errors.add("email", i18n.gettext(N_("Enter your e-mail address.")))
        if not password:
            errors.add("password", i18n.gettext(N_("Enter your password.")))
        if not errors:
            state = request.app.state
            address = client_address(request.scope, state.settings)
            try:
                token = await accounts.login(
                    state.pool,
                    state.redis,
                    state.settings,
                    Credentials(email=email, password=password),
                    address,
                )
            except Problem as problem:
                errors = problem_errors(problem)
            else:
                claims = decode_token(state.settings, token.access_token)
                assert claims is not None
                sign_in(request.session, str(claims.user_id))
                return redirect(target, "signed-in", request)
        return await render(
            request,
            "pages/sign_in.html",
            status=400,
            title=i18n.gettext(N_("Sign in")),
            errors=errors,
            next=target,
            email=email,
        )

    @get("/sign-up", name="web:sign-up")
    async def sign_up_form(self, request: PageRequest) -> Template:
        return await render(
            request,
            "pages/sign_up.html",
            title=i18n.gettext(N_("Create an account")),
            next=safe_next(request.query_params.get("next"), "/"),
            values={"email": "", "name": "", "phone": ""},
        )

    @post("/sign-up")
    async def sign_up(self, request: PageRequest) -> Template | Redirect:
        form = await request.form()
        values = {
            "email": field_text(form, "email", 320),
            "name": field_text(form, "name", 100),
            "phone": field_text(form, "phone", 30),
        }
        password = str(form.get("password", ""))[:1024]
        target = safe_next(field_text(form, "next", 2000), "/")
        errors = FormErrors()
        try:
            await accounts.register(
                request.app.state.pool,
                request.app.state.settings,
                Registration(
                    email=values["email"],
                    password=password,
                    name=values["name"],
                    phone=values["phone"] or None,
                ),
            )
        except (Problem, asyncpg.PostgresError) as problem:
            errors = problem_errors(problem)
        else:
            # The same page whether or not the address had an account: the e-mail says which.
            return redirect("/check-your-email")
        return await render(
            request,
            "pages/sign_up.html",
            status=400,
            title=i18n.gettext(N_("Create an account")),
            errors=errors,
            next=target,
            values=values,
        )

    @get("/check-your-email", name="web:check-your-email")
    async def check_your_email(self, request: PageRequest) -> Template:
        return await render(
            request,
            "pages/check_email.html",
            title=i18n.gettext(N_("Check your e-mail")),
        )

    @get("/verify-email", name="web:verify-email")
    async def verify_email(self, request: PageRequest) -> Template | Redirect:
        """The link in the welcome e-mail: verifies the address and signs its owner in."""
        token = request.query_params.get("token", "")[:200]
        try:
            user_id = await accounts.verify_email(request.app.state.pool, token)
        except Problem as problem:
            return await render(
                request,
                "pages/link_invalid.html",
                status=400,
                title=i18n.gettext(N_("This link does not work")),
                errors=problem_errors(problem),
            )
        sign_in(request.session, str(user_id))
        return redirect("/", "verified", request)

    @get("/forgot-password", name="web:forgot-password")
    async def forgot_password_form(self, request: PageRequest) -> Template:
        return await render(
            request,
            "pages/forgot_password.html",
            title=i18n.gettext(N_("Forgot your password?")),
            email="",
        )

    @post("/forgot-password")
    async def forgot_password(self, request: PageRequest) -> Template | Redirect:
        form = await request.form()
        email = field_text(form, "email", 320)
        if not email or "@" not in email:
            errors = FormErrors()
            errors.add("email", i18n.gettext(N_("Enter your e-mail address.")))
            return await render(
                request,
                "pages/forgot_password.html",
                status=400,
                title=i18n.gettext(N_("Forgot your password?")),
                errors=errors,
                email=email,
            )
        state = request.app.state
        await accounts.request_password_reset(state.pool, state.settings, email)
        return redirect("/check-your-email")

    @get("/reset-password", name="web:reset-password")
    async def reset_password_form(self, request: PageRequest) -> Template:
        return await render(
            request,
            "pages/reset_password.html",
            title=i18n.gettext(N_("Choose a new password")),
            token=request.query_params.get("token", "")[:200],
        )

    @post("/reset-password")
    async def reset_password(self, request: PageRequest) -> Template | Redirect:
        form = await request.form()
        token = field_text(form, "token", 200)
        password = str(form.get("password", ""))[:1024]
        try:
            await accounts.reset_password(request.app.state.pool, token, password)
        except Problem as problem:
            return await render(
                request,
                "pages/reset_password.html",
                status=400,
                title=i18n.gettext(N_("Choose a new password")),
                errors=problem_errors(problem),
                token=token,
            )
        return redirect("/sign-in", "password-reset", request)

    @post("/sign-out", name="web:sign-out")
    async def sign_out(self, request: PageRequest) -> Redirect:
        sign_out(request)
        return Redirect("/", status_code=303)

    @get("/account", name="web:account")
    async def account(self, request: PageRequest) -> Template:
        principal = await signed_in(request)
        profile = await accounts.profile(request.app.state.pool, principal)
        return await render(
            request,
            "pages/account.html",
            title=i18n.gettext(N_("My account")),
            profile=profile,
            strikes=await strikes_of(request, principal),
        )


class FindController(Controller):
    path = "/"
    include_in_schema = False

    @get("/", name="web:find")
    async def find(self, request: PageRequest) -> Template:
        """The search form, and results once a search was made. htmx asks for the results part
        only (``more``); without JavaScript the same address gives the whole page."""
        query = request.query_params
        errors = FormErrors()
        district = query.get("district") or None
        where = (query.get("where") or "").strip()[:100]
        if where and district is None:
            district = _district_from_text(where)
            if district is None:
                errors.add(
                    "where",
                    i18n.gettext(
                        N_("No Seoul district found in this address; choose one from the list.")
                    ),
                )
        if district is not None and district not in SEOUL_DISTRICTS:
            errors.add("district", i18n.gettext(N_("Choose one of Seoul's 25 districts.")))
            district = None
        today = datetime.now(SEOUL).date()
        raw_day = query.get("date")
        day = _parse_day(raw_day) if raw_day else None
        if raw_day and day is None:
            errors.add("date", i18n.gettext(N_("Enter a date like 2026-12-05.")))
        raw_start = query.get("start")
        start_clock = _parse_clock(raw_start) if raw_start else None
        if raw_start and start_clock is None:
            errors.add("start", i18n.gettext(N_("Enter a time like 19:00.")))
        duration = _int(query.get("duration"), 30, 1440) or 120
        raw_people = query.get("people")
        people = _int(raw_people, 1, 100_000) if raw_people else None
        if raw_people and people is None:
            errors.add("people", i18n.gettext(N_("Enter the number of people, 1 or more.")))
        equipment = [a for a in query.getall("equipment", []) if a in AMENITIES][:13]
        keyword = (query.get("q") or "").strip()[:100] or None
        near = (query.get("near") or "").strip()[:60] or None
        searched = bool(query) and not (len(query) == 1 and "cursor" in query)
        free_from = free_to = None
        if day is not None and start_clock is not None:
            start = datetime.combine(day, start_clock, tzinfo=SEOUL)
            free_from, free_to = (
                start.isoformat(),
                (start + timedelta(minutes=duration)).isoformat(),
            )
        results: list[dict[str, Any]] = []
        next_cursor = None
        if searched and not errors:
            try:
                search = catalogue_search.parse_search(
                    region=SEOUL_REGION if district else None,
                    district=district,
                    kind=None,
                    min_capacity=people,
                    amenity=equipment,
                    accessible=[],
                    free_from=free_from,
                    free_to=free_to,
                    near=near,
                    radius_km=None,
                    q=keyword,
                    limit=10,
                )
                page = await catalogue_search.search_rooms(
                    request.app.state.pool, search, (query.get("cursor") or "")[:500] or None
                )
            except Problem as problem:
                errors = problem_errors(problem)
            else:
                next_cursor = page.next_cursor
                shown_day = day or today
                free = await free_starts_of(request.app.state.pool, page.items, shown_day)
                for room, slots in zip(page.items, free, strict=True):
                    results.append(
                        {"room": room, "name": _room_name(room), "free": slots, "day": shown_day}
                    )
        more_query = None
        if next_cursor:
            params = [(k, v) for k, v in query.multi_items() if k != "cursor"]
            params.append(("cursor", next_cursor))
            from urllib.parse import urlencode

            more_query = "/?" + urlencode(params)
        context = {
            "districts": SEOUL_DISTRICTS,
            "amenities": [(a, _label(AMENITY_LABELS, a)) for a in AMENITIES],
            "form": {
                "district": district or "",
                "where": where,
                "date": raw_day or "",
                "start": raw_start or "",
                "duration": duration,
                "people": raw_people or "",
                "equipment": equipment,
                "q": keyword or "",
                "near": near or "",
            },
            "durations": DURATIONS,
            "today": today.isoformat(),
            "searched": searched,
            "results": results,
            "more_query": more_query,
            "amenity_label": lambda a: _label(AMENITY_LABELS, a),
        }
        template = "pages/find.html"
        if wants_part(request, "more"):
            template = "pages/_results.html"
        return await render(
            request,
            template,
            status=400 if errors else 200,
            title=i18n.gettext(N_("Find a room")),
            errors=errors,
            **context,
        )


async def _room_or_404(request: PageRequest, room_id: uuid.UUID) -> Room:
    return await catalogue_rooms.get_room(request.app.state.pool, None, room_id)


class RoomController(Controller):
    path = "/rooms"
    include_in_schema = False

    @get("/{room_id:uuid}", name="web:room")
    async def room(self, request: PageRequest, room_id: FromPath[uuid.UUID]) -> Template:
        room = await _room_or_404(request, room_id)
        tz = ZoneInfo(room.timezone)
        today = datetime.now(tz).date()
        week = _parse_day(request.query_params.get("week")) or today
        monday = _monday(week)
        horizon = today + timedelta(days=room.policy.horizon_days)
        monday = max(_monday(today), min(monday, _monday(horizon)))
        reschedule = request.query_params.get("reschedule")
        reschedule_id: uuid.UUID | None = None
        if reschedule:
            try:
                reschedule_id = uuid.UUID(reschedule[:40])
            except ValueError:
                reschedule_id = None
        days = await week_slots(request.app.state.pool, room, monday)
        rules = await catalogue_windows.get_rules(request.app.state.pool, None, room_id)
        template = "pages/room.html"
        if wants_part(request, "week"):
            template = "pages/_week.html"
        return await render(
            request,
            template,
            title=_room_name(room),
            room=room,
            room_name=_room_name(room),
            rules=rules,
            days=days,
            monday=monday,
            prev_week=(monday - timedelta(days=7)).isoformat() if monday > _monday(today) else None,
            next_week=(monday + timedelta(days=7)).isoformat()
            if monday < _monday(horizon)
            else None,
            reschedule_id=reschedule_id,
            amenity_label=lambda a: _label(AMENITY_LABELS, a),
            local_photos=[p for p in room.photos if p.startswith("/")],
            other_photos=[p for p in room.photos if p.startswith("https://")],
            **await room_rounds(request, room),
        )

    async def _form(
        self,
        request: PageRequest,
        room: Room,
        start: datetime,
        *,
        status: int = 200,
        errors: FormErrors | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        ends = await end_choices(request.app.state.pool, room, start)
        return await render(
            request,
            "pages/book.html",
            status=status,
            title=i18n.gettext(N_("Book %(room)s")) % {"room": _room_name(room)},
            room=room,
            room_name=_room_name(room),
            start=start,
            ends=ends,
            errors=errors or FormErrors(),
            values=values or {"attendees": "", "purpose": "", "end": ""},
            key=str(uuid.uuid4()),
        )

    @get("/{room_id:uuid}/book", name="web:book")
    async def book_form(self, request: PageRequest, room_id: FromPath[uuid.UUID]) -> Template:
        await signed_in(request)
        room = await _room_or_404(request, room_id)
        start = _parse_instant(request.query_params.get("start"))
        if start is None:
            raise Problem("start", status=400)
        end = _parse_instant(request.query_params.get("end"))
        values = {"attendees": "", "purpose": "", "end": end.isoformat() if end else ""}
        return await self._form(request, room, start, values=values)

    @post("/{room_id:uuid}/book")
    async def book(self, request: PageRequest, room_id: FromPath[uuid.UUID]) -> Template | Redirect:
        principal = await signed_in(request)
        room = await _room_or_404(request, room_id)
        form = await request.form()
        start = _parse_instant(field_text(form, "start", 40))
        if start is None:
            raise Problem("start", status=400)
        end = _parse_instant(field_text(form, "end", 40))
        raw_people = field_text(form, "attendees", 10)
        people = _int(raw_people, 1, 100_000)
        purpose = field_text(form, "purpose", 500)
        key = field_text(form, "key", 255) or None
        values = {
            "attendees": raw_people,
            "purpose": purpose,
            "end": end.isoformat() if end else "",
        }
        errors = FormErrors()
        if end is None:
            errors.add("end", i18n.gettext(N_("Choose an end time.")))
        if people is None:
            errors.add("attendees", i18n.gettext(N_("Enter the number of people, 1 or more.")))
        if form.get("agree") != "yes":
            errors.add("agree", i18n.gettext(N_("Agree to the room's rules to book it.")))
        if errors or end is None or people is None:
            return await self._form(request, room, start, status=400, errors=errors, values=values)
        body = BookingCreate(
            room_id=room.id, start=start, end=end, attendees=people, purpose=purpose
        )
        try:
            answer = await reservations.create_booking(
                request.app.state.pool, principal.id, body, key
            )
        except Problem as problem:
            if problem.code == "slot-taken":
                return await _conflict(request, room, start, end, problem, None)
            return await self._form(
                request,
                room,
                start,
                status=problem.status if problem.status < 500 else 400,
                errors=problem_errors(problem),
                values=values,
            )
        return redirect(f"/my/bookings/{answer.booking_id}?new=1")


async def _conflict(
    request: PageRequest,
    room: Room,
    start: datetime,
    end: datetime,
    problem: Problem,
    booking_id: uuid.UUID | None,
) -> Template:
    alternatives = problem.extra.get("alternatives", [])
    return await render(
        request,
        "pages/conflict.html",
        status=409,
        title=i18n.gettext(N_("This time was just taken")),
        room=room,
        room_name=_room_name(room),
        start=start,
        end=end,
        alternatives=[(a.start, a.end) for a in alternatives],
        booking_id=booking_id,
    )


class MyBookingsController(Controller):
    path = "/my"
    include_in_schema = False

    @get("/bookings", name="web:my-bookings")
    async def bookings(self, request: PageRequest) -> Template:
        principal = await signed_in(request)
        pool = request.app.state.pool
        now = datetime.now(UTC)
        upcoming = await reservations.list_my_bookings(
            pool, principal, status=None, window_from=now, window_to=None, cursor=None, limit=50
        )
        past = await reservations.list_my_bookings(
            pool,
            principal,
            status=None,
            window_from=now - timedelta(days=180),
            window_to=now,
            cursor=None,
            limit=50,
        )
        past_items = [b for b in past.items if b.end <= now][::-1]
        rooms = await _rooms_of(request, upcoming.items + past_items)
        https_url, webcal_url = await feeds.calendar_urls(
            pool, request.app.state.settings, principal
        )
        return await render(
            request,
            "pages/my_bookings.html",
            title=i18n.gettext(N_("My bookings")),
            upcoming=upcoming.items,
            past=past_items,
            rooms=rooms,
            status_label=lambda s: _label(STATUS_LABELS, s),
            feed_url=https_url,
            webcal_url=webcal_url,
        )

    @post("/calendar/rotate", name="web:rotate")
    async def rotate(self, request: PageRequest) -> Redirect:
        principal = await signed_in(request)
        await feeds.rotate_calendar_token(
            request.app.state.pool, request.app.state.settings, principal
        )
        return redirect("/my/bookings#calendar", "rotated", request)

    @get("/bookings/{booking_id:uuid}", name="web:booking")
    async def booking(self, request: PageRequest, booking_id: FromPath[uuid.UUID]) -> Template:
        principal = await signed_in(request)
        pool = request.app.state.pool
        booking = await reservations.get_booking(pool, principal, booking_id)
        room = await catalogue_rooms.get_room(pool, principal, booking.room_id)
        _, webcal_url = await feeds.calendar_urls(pool, request.app.state.settings, principal)
        now = datetime.now(UTC)
        check_in_open = (
            booking.status == "confirmed"
            and booking.start - lifecycle.CHECK_IN_OPENS_BEFORE <= now < booking.end
        )
        return await render(
            request,
            "pages/booking.html",
            title=(
                i18n.gettext(N_("Booking received"))
                if request.query_params.get("new")
                else i18n.gettext(N_("Booking"))
            ),
            booking=booking,
            room=room,
            room_name=_room_name(room),
            new=bool(request.query_params.get("new")),
            status_label=lambda s: _label(STATUS_LABELS, s),
            webcal_url=webcal_url,
            changeable=booking.status in ("pending", "confirmed") and booking.start > now,
            check_in_open=check_in_open,
        )

    @get("/bookings/{booking_id:uuid}/event.ics", name="web:event")
    async def event(self, request: PageRequest, booking_id: FromPath[uuid.UUID]) -> Response[bytes]:
        principal = await signed_in(request)
        answer = await feeds.booking_event_feed(
            request.app.state.pool,
            request.app.state.settings,
            principal,
            booking_id,
            feeds.Conditions(),
        )
        return Response(
            answer.body or b"",
            media_type="text/calendar; charset=utf-8",
            headers={
                **answer.headers(),
                "Content-Disposition": f'attachment; filename="nanum-{booking_id}.ics"',
            },
        )

    @get("/bookings/{booking_id:uuid}/cancel", name="web:cancel")
    async def cancel_form(self, request: PageRequest, booking_id: FromPath[uuid.UUID]) -> Template:
        principal = await signed_in(request)
        pool = request.app.state.pool
        booking = await reservations.get_booking(pool, principal, booking_id)
        room = await catalogue_rooms.get_room(pool, principal, booking.room_id)
        return await render(
            request,
            "pages/cancel.html",
            title=i18n.gettext(N_("Cancel this booking?")),
            booking=booking,
            room=room,
            room_name=_room_name(room),
        )

    @post("/bookings/{booking_id:uuid}/cancel")
    async def cancel(
        self, request: PageRequest, booking_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await signed_in(request)
        pool = request.app.state.pool
        try:
            await reservations.cancel_booking(pool, principal, booking_id, None)
        except Problem as problem:
            if problem.status == 404:
                raise
            booking = await reservations.get_booking(pool, principal, booking_id)
            room = await catalogue_rooms.get_room(pool, principal, booking.room_id)
            return await render(
                request,
                "pages/cancel.html",
                status=409,
                title=i18n.gettext(N_("Cancel this booking?")),
                booking=booking,
                room=room,
                room_name=_room_name(room),
                errors=problem_errors(problem),
            )
        return redirect("/my/bookings", "cancelled", request)

    @get("/bookings/{booking_id:uuid}/reschedule", name="web:reschedule")
    async def reschedule_form(
        self, request: PageRequest, booking_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await signed_in(request)
        pool = request.app.state.pool
        booking = await reservations.get_booking(pool, principal, booking_id)
        start = _parse_instant(request.query_params.get("start"))
        if start is None:
            # Pick the new time on the room's week view.
            return redirect(f"/rooms/{booking.room_id}?reschedule={booking.id}")
        room = await catalogue_rooms.get_room(pool, principal, booking.room_id)
        return await self._reschedule_page(request, booking, room, start)

    async def _reschedule_page(
        self,
        request: PageRequest,
        booking: Booking,
        room: Room,
        start: datetime,
        *,
        status: int = 200,
        errors: FormErrors | None = None,
    ) -> Template:
        ends = await end_choices(request.app.state.pool, room, start)
        length = booking.end - booking.start
        preferred = start + length
        return await render(
            request,
            "pages/reschedule.html",
            status=status,
            title=i18n.gettext(N_("Move this booking")),
            booking=booking,
            room=room,
            room_name=_room_name(room),
            start=start,
            ends=ends,
            preferred=preferred,
            errors=errors or FormErrors(),
        )

    @post("/bookings/{booking_id:uuid}/reschedule")
    async def reschedule(
        self, request: PageRequest, booking_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await signed_in(request)
        pool = request.app.state.pool
        form = await request.form()
        booking = await reservations.get_booking(pool, principal, booking_id)
        room = await catalogue_rooms.get_room(pool, principal, booking.room_id)
        start = _parse_instant(field_text(form, "start", 40))
        end = _parse_instant(field_text(form, "end", 40))
        if start is None:
            raise Problem("start", status=400)
        if end is None:
            errors = FormErrors()
            errors.add("end", i18n.gettext(N_("Choose an end time.")))
            return await self._reschedule_page(
                request, booking, room, start, status=400, errors=errors
            )
        try:
            await reservations.reschedule_booking(pool, principal, booking_id, start, end)
        except Problem as problem:
            if problem.code == "slot-taken":
                return await _conflict(request, room, start, end, problem, booking_id)
            if problem.status == 404:
                raise
            return await self._reschedule_page(
                request,
                booking,
                room,
                start,
                status=problem.status if problem.status < 500 else 400,
                errors=problem_errors(problem),
            )
        return redirect(f"/my/bookings/{booking_id}", "rescheduled", request)

    @post("/bookings/{booking_id:uuid}/check-in", name="web:check-in")
    async def check_in(
        self, request: PageRequest, booking_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await signed_in(request)
        try:
            await lifecycle.check_in(
                request.app.state.pool, principal, booking_id, datetime.now(UTC)
            )
        except Problem as problem:
            if problem.status == 404:
                raise
            request.session["flash"] = None
            errors = problem_errors(problem)
            return await render(
                request,
                "pages/error.html",
                status=409,
                title=i18n.gettext(N_("Check-in not possible")),
                message=" ".join(errors.general) or i18n.gettext(N_("Check-in not possible")),
            )
        return redirect(f"/my/bookings/{booking_id}", "checked-in", request)


async def _rooms_of(
    request: PageRequest, bookings: list[Booking]
) -> dict[uuid.UUID, dict[str, Any]]:
    rooms: dict[uuid.UUID, dict[str, Any]] = {}
    for booking in bookings:
        if booking.room_id not in rooms:
            try:
                room = await catalogue_rooms.get_room(request.app.state.pool, None, booking.room_id)
            except Problem:
                continue
            rooms[booking.room_id] = {"room": room, "name": _room_name(room)}
    return rooms


ROUTES = [
    LanguageController,
    AccountController,
    FindController,
    RoomController,
    MyBookingsController,
]
