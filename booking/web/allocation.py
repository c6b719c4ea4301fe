"""The fair-allocation pages (issue 13): lottery rounds on a room's page, applying and
withdrawing, my applications, waitlists and offers, the public draw results, and the managers'
round pages. Each handler calls :mod:`booking.allocation.service`, like the API, with the real
time; refusals come back as messages next to the field, in the page language."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from booking.accounts.auth import Principal
from booking.allocation import service
from booking.catalogue import rooms as catalogue_rooms
from booking.errors import NotFound, Problem
from booking.web import i18n
from booking.web.pages import (
    FormErrors,
    PageRequest,
    field_text,
    problem_errors,
    redirect,
    render,
    signed_in,
    viewer,
)
from booking.web.templating import N_
from schemas.allocation import (
    MyStrikes,
    Round,
    RoundCreate,
    RoundUpdate,
    WaitlistEntry,
    WaitlistJoin,
)
from schemas.catalogue import Room

__all__ = ("ROUTES", "room_rounds", "strikes_of")

PHASE_LABELS: dict[str, str] = {
    "draft": N_("Draft (not public)"),
    "scheduled": N_("Opens soon"),
    "open": N_("Open for applications"),
    "closed": N_("Closed, waiting for the draw"),
    "drawn": N_("Drawn"),
}
OUTCOME_LABELS: dict[str, str] = {
    "won": N_("Won"),
    "slot_taken": N_("Won, but the time was taken"),
    "won_elsewhere": N_("Won another slot of this round"),
    "waitlisted": N_("On the waitlist"),
    "ineligible": N_("Not eligible at the draw"),
}
ENTRY_LABELS: dict[str, str] = {
    "waiting": N_("Waiting"),
    "offered": N_("Offered to you"),
}
FLASH_TEXTS: dict[str, str] = {
    "applied": N_("Your application is in. The draw decides; we e-mail you the result."),
    "withdrawn": N_("Your application is withdrawn."),
    "waiting": N_("You are on the waitlist. We e-mail you when the time frees."),
    "left": N_("You left the waitlist."),
    "accepted": N_("The offer is accepted: the time is your booking."),
    "declined": N_("The offer is declined; the next in line gets it."),
    "round-saved": N_("The round is saved."),
    "published": N_("The round is published; its commitment is public."),
    "value-saved": N_("The public value is saved; it joins the draw."),
}

# Messages for the allocation services' refusals: (field or "" for the summary, message).
_CODE_MESSAGES: dict[str, tuple[str, str]] = {
    "already-applied": ("slot_id", N_("You already applied for this slot.")),
    "round-not-open": (
        "",
        N_("Applications are taken only while the round's application period is open."),
    ),
    "already-waiting": ("", N_("You are already waiting for this time.")),
    "slot-free": ("", N_("This time is free: book it instead of waiting.")),
    "offer-expired": ("", N_("This offer has expired.")),
    "illegal-transition": ("", N_("This offer was already answered or has expired.")),
    "round-locked": ("", N_("A published round cannot change.")),
    "round-period-over": (
        "",
        N_("The application period has already ended; move it before publishing."),
    ),
    "round-not-closed": (
        "value",
        N_("The public value is entered after the application period closes."),
    ),
    "room-not-lottery": ("", N_("This room does not give out its times by lottery.")),
}
_RULE_MESSAGES: dict[str, tuple[str, str]] = {
    "max_applications": ("slot_id", N_("You have used all your applications in this round.")),
    "monthly_cap": (
        "",
        N_("You already hold as many bookings of this room this month as allowed."),
    ),
    "institution_monthly_cap": (
        "",
        N_("You already hold as many bookings of this building this month as allowed."),
    ),
}
_FIELD_MESSAGES: dict[str, str] = {
    "title": N_("Enter a title of 1 to 200 characters."),
    "opens_at": N_("Enter when applications open."),
    "closes_at": N_("Choose a closing time after the opening."),
    "draw_at": N_("Choose a draw time at or after the close."),
    "slots": N_(
        "Every slot must end after it starts, start after the draw and not overlap another."
    ),
    "max_applications_per_citizen": N_("Enter a number from 1 to 100."),
    "value": N_("Enter the public value, at most 200 characters."),
    "slot_id": N_("Choose one of this round's slots."),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _label(labels: dict[str, str], key: str | None) -> str:
    if key is None:
        return ""
    return i18n.gettext(labels[key]) if key in labels else key


def _room_name(room: Room) -> str:
    if i18n.current.get().code == "en" and room.name_en:
        return room.name_en
    return room.name


def allocation_errors(problem: Problem) -> FormErrors:
    """A refusal of the allocation services as messages for the form, in the page language."""
    errors = FormErrors()
    if problem.code == "booking-suspended":
        until = problem.extra.get("suspended_until")
        text = i18n.gettext(N_("Booking and applying are suspended after repeated no-shows."))
        if isinstance(until, str):
            moment = datetime.fromisoformat(until)
            text = i18n.gettext(
                N_("Booking and applying are suspended until %(day)s after repeated no-shows.")
            ) % {"day": i18n.format_local_day(moment, "Asia/Seoul")}
        errors.general.append(text)
        return errors
    rule = problem.extra.get("rule")
    found = _RULE_MESSAGES.get(rule) if isinstance(rule, str) else None
    found = found or _CODE_MESSAGES.get(problem.code)
    if found is not None:
        name, message = found
        if name:
            errors.add(name, i18n.gettext(message))
        else:
            errors.general.append(i18n.gettext(message))
        return errors
    if problem.code == "validation-error" and problem.errors:
        for item in problem.errors:
            if item.field in _FIELD_MESSAGES:
                errors.add(item.field, i18n.gettext(_FIELD_MESSAGES[item.field]))
        if errors:
            return errors
    return problem_errors(problem)


def _status(problem: Problem) -> int:
    return problem.status if 400 <= problem.status < 500 else 400


def _flash(request: PageRequest) -> str | None:
    key = request.query_params.get("done")
    return i18n.gettext(FLASH_TEXTS[key]) if key in FLASH_TEXTS else None


def _done(path: str, key: str) -> Redirect:
    """303 to ``path`` with a confirmation message (``done``, one of :data:`FLASH_TEXTS`)."""
    separator = "&" if "?" in path else "?"
    fragment = ""
    if "#" in path:
        path, fragment = path.split("#", 1)
        fragment = "#" + fragment
    return redirect(f"{path}{separator}done={key}{fragment}")


def _parse_instant(value: str | None) -> datetime | None:
    if not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value[:40])
    except ValueError:
        return None


async def _room(request: PageRequest, room_id: uuid.UUID) -> Room:
    return await catalogue_rooms.get_room(request.app.state.pool, None, room_id)


@dataclass(frozen=True, slots=True)
class RoundView:
    """A round with its room, as the templates show it."""

    round: Round
    room: Room
    room_name: str
    phase_label: str


async def _round_view(
    request: PageRequest, principal: Principal | None, round_id: uuid.UUID
) -> RoundView:
    found = await service.get_round(request.app.state.pool, principal, round_id, _now())
    room = await _room(request, found.room_id)
    return RoundView(found, room, _room_name(room), _label(PHASE_LABELS, found.phase))


# --- used by the room and account pages ------------------------------------------------------


async def room_rounds(request: PageRequest, room: Room) -> dict[str, Any]:
    """What the room page shows of its lottery: the mode and the rounds (drafts for its
    managers only)."""
    pool = request.app.state.pool
    mode = await service.room_allocation_mode(pool, room.id)
    if mode != "lottery":
        return {"lottery": False, "rounds": []}
    principal = await viewer(request)
    rounds = await service.list_rounds(pool, principal, room.id, _now())
    return {
        "lottery": True,
        "rounds": [(r, _label(PHASE_LABELS, r.phase)) for r in rounds],
        "manages_room": principal is not None and principal.manages(room.institution_id),
    }


async def strikes_of(request: PageRequest, principal: Principal) -> MyStrikes:
    return await service.my_strikes(request.app.state.pool, principal, _now())


# --- citizens: rounds, applications ----------------------------------------------------------


class RoundPagesController(Controller):
    path = "/rounds"
    include_in_schema = False

    async def _page(
        self,
        request: PageRequest,
        round_id: uuid.UUID,
        *,
        status: int = 200,
        errors: FormErrors | None = None,
        chosen: str = "",
    ) -> Template:
        principal = await viewer(request)
        view = await _round_view(request, principal, round_id)
        mine = (
            await service.my_applications(request.app.state.pool, principal, round_id)
            if principal is not None
            else []
        )
        applied = {a.slot_id for a in mine}
        tz = view.room.timezone
        options = [
            (
                str(s.id),
                f"{i18n.format_range(s.start, s.end, tz)} · "
                + i18n.ngettext("%(num)s application", "%(num)s applications", s.applications)
                % {"num": s.applications},
            )
            for s in view.round.slots
            if s.id not in applied
        ]
        can_apply = view.round.phase == "open" and (
            principal is None or principal.role == "citizen"
        )
        return await render(
            request,
            "allocation/round.html",
            status=status,
            title=view.round.title,
            view=view,
            mine=mine,
            options=options,
            can_apply=can_apply,
            left=max(0, view.round.max_applications_per_citizen - len(mine)),
            chosen=chosen,
            errors=errors or FormErrors(),
            done=_flash(request),
            outcome_label=lambda o: _label(OUTCOME_LABELS, o),
        )

    @get("/{round_id:uuid}", name="web:round")
    async def round_page(self, request: PageRequest, round_id: FromPath[uuid.UUID]) -> Template:
        return await self._page(request, round_id)

    @post("/{round_id:uuid}/apply", name="web:round-apply")
    async def apply(
        self, request: PageRequest, round_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await signed_in(request)
        form = await request.form()
        raw = field_text(form, "slot_id", 40)
        slot_id = _uuid(raw) if raw else None
        errors = FormErrors()
        if slot_id is None:
            errors.add("slot_id", i18n.gettext(_FIELD_MESSAGES["slot_id"]))
            return await self._page(request, round_id, status=400, errors=errors)
        try:
            await service.apply(request.app.state.pool, principal, round_id, slot_id, _now())
        except Problem as problem:
            if problem.status == 404:
                raise
            return await self._page(
                request,
                round_id,
                status=_status(problem),
                errors=allocation_errors(problem),
                chosen=str(slot_id),
            )
        return _done(f"/rounds/{round_id}#mine", "applied")

    @post("/{round_id:uuid}/applications/{application_id:uuid}/withdraw", name="web:withdraw")
    async def withdraw(
        self,
        request: PageRequest,
        round_id: FromPath[uuid.UUID],
        application_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        principal = await signed_in(request)
        try:
            await service.withdraw(
                request.app.state.pool, principal, round_id, application_id, _now()
            )
        except Problem as problem:
            if problem.status == 404:
                raise
            return await self._page(
                request, round_id, status=_status(problem), errors=allocation_errors(problem)
            )
        return _done(f"/rounds/{round_id}#mine", "withdrawn")

    @get("/{round_id:uuid}/result", name="web:round-result")
    async def result(self, request: PageRequest, round_id: FromPath[uuid.UUID]) -> Template:
        pool = request.app.state.pool
        principal = await viewer(request)
        view = await _round_view(request, None, round_id)
        record = await service.round_result(pool, round_id)
        mine: set[str] = set()
        if principal is not None:
            mine = {a.pseudonym for a in await service.my_applications(pool, principal, round_id)}
        seed_matches = (
            record.seed is not None
            and hashlib.sha256(bytes.fromhex(record.seed)).hexdigest() == record.seed_commitment
        )
        return await render(
            request,
            "allocation/result.html",
            title=i18n.gettext(N_("Draw results: %(round)s")) % {"round": view.round.title},
            view=view,
            record=record,
            mine=mine,
            seed_matches=seed_matches,
            request_base=str(request.base_url).rstrip("/"),
        )


class MyApplicationsController(Controller):
    path = "/my/applications"
    include_in_schema = False

    @get("/", name="web:my-applications")
    async def applications(self, request: PageRequest) -> Template:
        principal = await signed_in(request)
        pool = request.app.state.pool
        rooms: dict[uuid.UUID, Room] = {}

        async def room_of(room_id: uuid.UUID) -> Room:
            if room_id not in rooms:
                rooms[room_id] = await _room(request, room_id)
            return rooms[room_id]

        rounds = []
        for round_id in await service.my_rounds(pool, principal):
            view = await _round_view(request, principal, round_id)
            rooms.setdefault(view.room.id, view.room)
            rounds.append((view, await service.my_applications(pool, principal, round_id)))
        entries: list[tuple[WaitlistEntry, Room]] = []
        for entry in await service.my_waitlist(pool, principal):
            entries.append((entry, await room_of(entry.room_id)))
        strikes = await strikes_of(request, principal)
        return await render(
            request,
            "allocation/my_applications.html",
            title=i18n.gettext(N_("My applications and waitlists")),
            rounds=rounds,
            offers=[(e, r) for e, r in entries if e.status == "offered"],
            waiting=[(e, r) for e, r in entries if e.status == "waiting"],
            room_name=_room_name,
            strikes=strikes,
            done=_flash(request),
            outcome_label=lambda o: _label(OUTCOME_LABELS, o),
        )


class WaitlistPagesController(Controller):
    path = "/"
    include_in_schema = False

    async def _join_page(
        self,
        request: PageRequest,
        room: Room,
        start: datetime,
        end: datetime,
        *,
        status: int = 200,
        errors: FormErrors | None = None,
    ) -> Template:
        return await render(
            request,
            "allocation/join_waitlist.html",
            status=status,
            title=i18n.gettext(N_("Join the waitlist")),
            room=room,
            room_name=_room_name(room),
            start=start,
            end=end,
            errors=errors or FormErrors(),
        )

    @get("/waitlist/join", name="web:waitlist-join")
    async def join_form(self, request: PageRequest) -> Template:
        await signed_in(request)
        room_id = _uuid(request.query_params.get("room") or "")
        start = _parse_instant(request.query_params.get("start"))
        end = _parse_instant(request.query_params.get("end"))
        if room_id is None or start is None or end is None or end <= start:
            raise Problem("room, start and end are needed", status=400)
        return await self._join_page(request, await _room(request, room_id), start, end)

    @post("/waitlist/join")
    async def join(self, request: PageRequest) -> Template | Redirect:
        principal = await signed_in(request)
        form = await request.form()
        room_id = _uuid(field_text(form, "room", 40))
        start = _parse_instant(field_text(form, "start", 40))
        end = _parse_instant(field_text(form, "end", 40))
        if room_id is None or start is None or end is None:
            raise Problem("room, start and end are needed", status=400)
        room = await _room(request, room_id)
        try:
            await service.join_waitlist(
                request.app.state.pool,
                principal,
                WaitlistJoin(room_id=room_id, start=start, end=end),
                _now(),
            )
        except Problem as problem:
            if problem.status == 404:
                raise
            return await self._join_page(
                request,
                room,
                start,
                end,
                status=_status(problem),
                errors=allocation_errors(problem),
            )
        return _done("/my/applications#waiting", "waiting")

    @post("/waitlist/{entry_id:int}/leave", name="web:waitlist-leave")
    async def leave(self, request: PageRequest, entry_id: FromPath[int]) -> Redirect:
        principal = await signed_in(request)
        if not 0 < entry_id < 2**63:
            raise NotFound("No such waiting entry (of yours).")
        await service.leave_waitlist(request.app.state.pool, principal, entry_id, _now())
        return _done("/my/applications#waiting", "left")

    async def _answer(
        self, request: PageRequest, booking_id: uuid.UUID, accept: bool
    ) -> Template | Redirect:
        principal = await signed_in(request)
        pool = request.app.state.pool
        try:
            if accept:
                answer = await service.accept_offer(pool, principal, booking_id, _now())
            else:
                await service.decline_offer(pool, principal, booking_id, _now())
        except Problem as problem:
            if problem.status == 404:
                raise
            errors = allocation_errors(problem)
            return await render(
                request,
                "pages/error.html",
                status=_status(problem),
                title=i18n.gettext(N_("The offer could not be answered")),
                message=" ".join([*errors.general, *errors.fields.values()]),
            )
        if accept:
            return redirect(f"/my/bookings/{answer.booking_id}?new=1")
        return _done("/my/applications", "declined")

    @post("/offers/{booking_id:uuid}/accept", name="web:offer-accept")
    async def accept(
        self, request: PageRequest, booking_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        return await self._answer(request, booking_id, accept=True)

    @post("/offers/{booking_id:uuid}/decline", name="web:offer-decline")
    async def decline(
        self, request: PageRequest, booking_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        return await self._answer(request, booking_id, accept=False)


# --- managers: rounds ------------------------------------------------------------------------

_SLOT_LINE = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[ T]+(\d{1,2}:\d{2})\s*[-–~]\s*(\d{1,2}:\d{2})\s*$"
)
_FIELD_PATH = re.compile(r"at `\$\.([a-z_]+)")


@dataclass
class RoundForm:
    """The round form as typed: local times of the room's zone, one slot a line."""

    title: str = ""
    opens_at: str = ""
    closes_at: str = ""
    draw_at: str = ""
    slots: str = ""
    max_applications: str = "3"
    public_value_required: bool = False

    @classmethod
    def of(cls, found: Round, timezone: str) -> RoundForm:
        tz = ZoneInfo(timezone)

        def local(moment: datetime) -> str:
            return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")

        lines = []
        for slot in found.slots:
            start, end = slot.start.astimezone(tz), slot.end.astimezone(tz)
            end_clock = (
                "24:00" if end.date() > start.date() and end.time() == time(0) else f"{end:%H:%M}"
            )
            lines.append(f"{start:%Y-%m-%d %H:%M}-{end_clock}")
        return cls(
            title=found.title,
            opens_at=local(found.opens_at),
            closes_at=local(found.closes_at),
            draw_at=local(found.draw_at),
            slots="\n".join(lines),
            max_applications=str(found.max_applications_per_citizen),
            public_value_required=found.public_value_required,
        )


def _read_round_form(form: Any) -> RoundForm:
    return RoundForm(
        title=field_text(form, "title", 300),
        opens_at=field_text(form, "opens_at", 20),
        closes_at=field_text(form, "closes_at", 20),
        draw_at=field_text(form, "draw_at", 20),
        slots=field_text(form, "slots", 60_000),
        max_applications=field_text(form, "max_applications", 6),
        public_value_required=form.get("public_value_required") == "yes",
    )


def _local_instant(text: str, tz: ZoneInfo) -> datetime | None:
    if not text or len(text) > 20:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else None


def _clock(day: date, text: str, tz: ZoneInfo) -> datetime | None:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit()):
        return None
    h, m = int(hours), int(minutes)
    if (h, m) == (24, 0):
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    if h > 23 or m > 59:
        return None
    return datetime.combine(day, time(h, m), tzinfo=tz)


def _parse_round(values: RoundForm, timezone: str, errors: FormErrors) -> dict[str, Any]:
    """The typed form as the body of RoundCreate; messages for what cannot be read."""
    tz = ZoneInfo(timezone)
    body: dict[str, Any] = {
        "title": values.title,
        "public_value_required": values.public_value_required,
    }
    for name in ("opens_at", "closes_at", "draw_at"):
        moment = _local_instant(getattr(values, name), tz)
        if moment is None:
            errors.add(name, i18n.gettext(N_("Enter a date and time like 2026-12-05 13:00.")))
        body[name] = moment
    slots: list[dict[str, datetime]] = []
    for number, line in enumerate(values.slots.splitlines()[:2001], start=1):
        if not line.strip():
            continue
        match = _SLOT_LINE.match(line)
        day = None
        if match:
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                day = None
        start = _clock(day, match.group(2), tz) if match and day else None
        end = _clock(day, match.group(3), tz) if match and day else None
        if start is None or end is None:
            errors.add(
                "slots",
                i18n.gettext(N_("Line %(n)s is not like 2026-12-05 13:00-17:00.")) % {"n": number},
            )
            break
        slots.append({"start": start, "end": end})
    if not slots:
        errors.add("slots", i18n.gettext(N_("Enter at least one slot, one a line.")))
    body["slots"] = slots
    cap = values.max_applications
    if not cap.isdigit() or not 1 <= int(cap) <= 100:
        errors.add(
            "max_applications", i18n.gettext(_FIELD_MESSAGES["max_applications_per_citizen"])
        )
    else:
        body["max_applications_per_citizen"] = int(cap)
    return body


def _schema_errors(exc: msgspec.ValidationError, errors: FormErrors) -> None:
    match = _FIELD_PATH.search(str(exc))
    name = match.group(1) if match else ""
    field = "max_applications" if name == "max_applications_per_citizen" else name
    message = _FIELD_MESSAGES.get(name)
    if message is None:
        errors.general.append(
            i18n.gettext(N_("That did not work. Check the details and try again."))
        )
    else:
        errors.add(field, i18n.gettext(message))


def _form_errors(problem: Problem) -> FormErrors:
    errors = allocation_errors(problem)
    if "max_applications_per_citizen" in errors.fields:
        errors.add("max_applications", errors.fields.pop("max_applications_per_citizen"))
    return errors


async def _managed_room(request: PageRequest, principal: Principal, room_id: uuid.UUID) -> Room:
    room = await _room(request, room_id)
    if not principal.manages(room.institution_id):
        raise NotFound("No such room (that you manage).")
    return room


async def _manager(request: PageRequest) -> Principal:
    principal = await signed_in(request)
    if principal.role not in ("manager", "admin"):
        raise NotFound("Pages for managers.")
    return principal


class ManageRoundsController(Controller):
    path = "/manage"
    include_in_schema = False

    @get("/rounds", name="web:manage-rounds")
    async def rounds(self, request: PageRequest) -> Template:
        principal = await _manager(request)
        pool = request.app.state.pool
        rooms = []
        for room_id in await service.lottery_rooms_managed(pool, principal):
            room = await _room(request, room_id)
            rounds = await service.list_rounds(pool, principal, room_id, _now())
            rooms.append(
                (room, _room_name(room), [(r, _label(PHASE_LABELS, r.phase)) for r in rounds])
            )
        return await render(
            request,
            "allocation/manage_rounds.html",
            title=i18n.gettext(N_("Lottery rounds")),
            rooms=rooms,
        )

    async def _form_page(
        self,
        request: PageRequest,
        room: Room,
        values: RoundForm,
        *,
        found: Round | None = None,
        status: int = 200,
        errors: FormErrors | None = None,
    ) -> Template:
        return await render(
            request,
            "allocation/round_form.html",
            status=status,
            title=i18n.gettext(N_("Edit the round"))
            if found
            else i18n.gettext(N_("New lottery round")),
            room=room,
            room_name=_room_name(room),
            values=values,
            found=found,
            errors=errors or FormErrors(),
        )

    @get("/rooms/{room_id:uuid}/rounds/new", name="web:round-new")
    async def new_round(self, request: PageRequest, room_id: FromPath[uuid.UUID]) -> Template:
        principal = await _manager(request)
        room = await _managed_room(request, principal, room_id)
        return await self._form_page(request, room, RoundForm())

    @post("/rooms/{room_id:uuid}/rounds")
    async def create(
        self, request: PageRequest, room_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await _manager(request)
        room = await _managed_room(request, principal, room_id)
        values = _read_round_form(await request.form())
        errors = FormErrors()
        body = _parse_round(values, room.timezone, errors)
        if not errors:
            try:
                created = await service.create_round(
                    request.app.state.pool,
                    principal,
                    room_id,
                    msgspec.convert(body, RoundCreate),
                    _now(),
                )
            except msgspec.ValidationError as exc:
                _schema_errors(exc, errors)
            except Problem as problem:
                if problem.status == 404:
                    raise
                errors = _form_errors(problem)
            else:
                return _done(f"/manage/rounds/{created.id}", "round-saved")
        return await self._form_page(request, room, values, status=400, errors=errors)

    async def _manage_page(
        self,
        request: PageRequest,
        principal: Principal,
        round_id: uuid.UUID,
        *,
        status: int = 200,
        errors: FormErrors | None = None,
        value: str = "",
    ) -> Template:
        view = await _round_view(request, principal, round_id)
        if not principal.manages(view.room.institution_id):
            raise NotFound("No such round (that you manage).")
        return await render(
            request,
            "allocation/manage_round.html",
            status=status,
            title=view.round.title,
            view=view,
            errors=errors or FormErrors(),
            value=value,
            done=_flash(request),
            awaits_value=view.round.phase == "closed" and view.round.public_value is None,
        )

    @get("/rounds/{round_id:uuid}", name="web:manage-round")
    async def manage_round(self, request: PageRequest, round_id: FromPath[uuid.UUID]) -> Template:
        principal = await _manager(request)
        return await self._manage_page(request, principal, round_id)

    @get("/rounds/{round_id:uuid}/edit", name="web:round-edit")
    async def edit_form(self, request: PageRequest, round_id: FromPath[uuid.UUID]) -> Template:
        principal = await _manager(request)
        view = await _round_view(request, principal, round_id)
        if not principal.manages(view.room.institution_id):
            raise NotFound("No such round (that you manage).")
        return await self._form_page(
            request, view.room, RoundForm.of(view.round, view.room.timezone), found=view.round
        )

    @post("/rounds/{round_id:uuid}/edit")
    async def edit(
        self, request: PageRequest, round_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await _manager(request)
        view = await _round_view(request, principal, round_id)
        if not principal.manages(view.room.institution_id):
            raise NotFound("No such round (that you manage).")
        values = _read_round_form(await request.form())
        errors = FormErrors()
        body = _parse_round(values, view.room.timezone, errors)
        if not errors:
            try:
                await service.update_round(
                    request.app.state.pool,
                    principal,
                    round_id,
                    msgspec.convert(body, RoundUpdate),
                    _now(),
                )
            except msgspec.ValidationError as exc:
                _schema_errors(exc, errors)
            except Problem as problem:
                if problem.status == 404:
                    raise
                errors = _form_errors(problem)
            else:
                return _done(f"/manage/rounds/{round_id}", "round-saved")
        return await self._form_page(
            request, view.room, values, found=view.round, status=400, errors=errors
        )

    @post("/rounds/{round_id:uuid}/publish", name="web:round-publish")
    async def publish(
        self, request: PageRequest, round_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await _manager(request)
        try:
            await service.publish_round(request.app.state.pool, principal, round_id, _now())
        except Problem as problem:
            if problem.status == 404:
                raise
            return await self._manage_page(
                request,
                principal,
                round_id,
                status=_status(problem),
                errors=allocation_errors(problem),
            )
        return _done(f"/manage/rounds/{round_id}", "published")

    @post("/rounds/{round_id:uuid}/public-value", name="web:round-public-value")
    async def public_value(
        self, request: PageRequest, round_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await _manager(request)
        form = await request.form()
        value = field_text(form, "value", 300)
        errors = FormErrors()
        if not value or len(value) > 200:
            errors.add("value", i18n.gettext(_FIELD_MESSAGES["value"]))
        else:
            try:
                await service.set_public_value(
                    request.app.state.pool, principal, round_id, value, _now()
                )
            except Problem as problem:
                if problem.status == 404:
                    raise
                errors = allocation_errors(problem)
            else:
                return _done(f"/manage/rounds/{round_id}", "value-saved")
        return await self._manage_page(
            request, principal, round_id, status=400, errors=errors, value=value
        )


ROUTES = [
    RoundPagesController,
    MyApplicationsController,
    WaitlistPagesController,
    ManageRoundsController,
]
