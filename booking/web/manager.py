"""The manager pages: today, the week, rooms, weekly windows, closures, decisions, the front
desk, the bookings list and the use figures of one institution.

Each handler checks that the signed-in account manages the institution in the address
(:func:`booking.manage.service.institution_for`: 404 otherwise, so another institution's pages
cannot even be told to exist; a citizen gets 404 too) and that a room or booking in the address
belongs to it, then calls the same service as the API and renders a template (or redirects
303 after a successful post).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from booking.accounts.auth import Principal
from booking.catalogue import closures as catalogue_closures
from booking.catalogue import rooms as catalogue_rooms
from booking.catalogue import windows as catalogue_windows
from booking.errors import NotFound, Problem
from booking.feeds import service as feeds
from booking.manage import service as manage
from booking.manage.queries import DeskBooking, InstitutionName, RoomUse
from booking.reservations import lifecycle
from booking.reservations import service as reservations
from booking.reservations.walk_in import WalkIn, book_walk_in
from booking.spreadsheet import spreadsheet_safe
from booking.web import i18n
from booking.web.clock import page_now
from booking.web.pages import (
    FLASH,
    FormErrors,
    PageRequest,
    csv_attachment,
    field_text,
    problem_errors,
    redirect,
    render,
    signed_in,
)
from booking.web.routes import AMENITY_LABELS, STATUS_LABELS
from booking.web.templating import N_
from schemas.catalogue import (
    AMENITIES,
    ROOM_KINDS,
    WEEKDAYS,
    ClosureCreate,
    Room,
    RoomCreate,
    RoomPatch,
    WeeklyWindowIn,
)

__all__ = ("MANAGER_ROUTES",)

ROOM_KIND_LABELS: dict[str, str] = {
    "meeting_room": N_("Meeting room"),
    "lecture_room": N_("Lecture room"),
    "multipurpose_room": N_("Multipurpose room"),
    "hall": N_("Hall"),
    "gym": N_("Gym"),
    "other": N_("Other"),
}
ACCESSIBILITY_LABELS: dict[str, str] = {
    "step_free": N_("Step-free entrance"),
    "elevator": N_("Elevator"),
    "accessible_toilet": N_("Accessible toilet"),
    "hearing_loop": N_("Hearing loop"),
}
MANAGER_STATUS_LABELS: dict[str, str] = {
    **STATUS_LABELS,
    "pending": N_("Waiting for a decision"),
    "no_show": N_("No-show"),
    "offered": N_("Offered to the waitlist"),
}
STATE_LABELS: dict[str, str] = {
    "free": N_("Available"),
    "taken": N_("Booked"),
    "pending": N_("Request waiting"),
    "closed": N_("Closed"),
}
STATE_MARKS = {"free": "○", "taken": "●", "pending": "◐", "closed": "✕"}

# Messages for the room, window and closure fields (the API's field names), in the page language.
FIELD_MESSAGES: dict[str, str] = {
    "name": N_("Enter the room's name (1 to 200 characters)."),
    "name_en": N_("Use at most 200 characters."),
    "kind": N_("Choose a kind of room."),
    "capacity": N_("Enter how many people fit, from 1 to 100,000."),
    "area_m2": N_("Enter the area in square metres, more than 0."),
    "floor": N_("Use at most 20 characters."),
    "photos": N_("Enter a web address starting with https://."),
    "amenities": N_("Choose equipment from the list."),
    "accessibility": N_("Choose features from the list."),
    "note": N_("Use at most 500 characters."),
    "policy.slot_minutes": N_("Use a slot size that divides a day, e.g. 30 or 60 minutes."),
    "policy.min_minutes": N_("Enter the shortest booking in minutes, 1 or more."),
    "policy.max_minutes": N_("The longest booking must be at least the shortest one."),
    "policy.lead_minutes": N_("Enter the notice in minutes, 0 or more."),
    "policy.horizon_days": N_("Enter how many days ahead people may book, from 1 to 730."),
    "policy.max_active_per_citizen": N_("Enter a number from 1 to 100."),
    "start": N_("Enter a start like 2026-12-05 and 19:00."),
    "end": N_("The end must be after the start."),
    "reason": N_("Use at most 500 characters."),
    "cancellation_reason": N_("Say why the bookings are cancelled: every citizen is told."),
    "days": N_("Choose at least one day."),
    "valid_until": N_("The last day must not be before the first day."),
    "phone": N_("Enter a phone number like 010-1234-5678."),
    "email": N_("Enter an e-mail address like name@example.com, or leave it empty."),
    "attendees": N_("Enter the number of people, 1 or more."),
    "purpose": N_("Describe the purpose in at most 500 characters."),
    "person": N_("Enter the person's name."),
}


FLASH.update(
    {
        "saved": N_("Saved."),
        "approved": N_("Approved. The citizens are told by e-mail."),
        "rejected": N_("Rejected. The citizens are told by e-mail, with your reason."),
        "checked-in-desk": N_("Checked in."),
        "no-show": N_("Marked as a no-show; the time is free again."),
        "walk-in": N_("Walk-in booking made."),
        "closure-cancelled": N_(
            "Closed. The bookings in the way are cancelled and their citizens told by e-mail."
        ),
    }
)


def _t(message: str) -> str:
    return i18n.gettext(message)


def _label(labels: dict[str, str], key: str) -> str:
    return _t(labels[key]) if key in labels else key


def _status(status: str) -> str:
    return _label(MANAGER_STATUS_LABELS, status)


def _page_field(name: str) -> str:
    """The form field of an API field: ``policy.slot_minutes`` is ``slot_minutes``."""
    name = name.removeprefix("policy.")
    return "photo" if name.startswith("photos") else name


def _errors_of(problem: Problem, rename: dict[str, str] | None = None) -> FormErrors:
    """A refusal as messages next to the fields, by the API's field names."""
    errors = FormErrors()
    for item in problem.errors or []:
        name = (rename or {}).get(item.field, _page_field(item.field))
        key = item.field.split("].", 1)[-1] if item.field.startswith("[") else item.field
        errors.add(name, _t(FIELD_MESSAGES.get(key, N_("This value is not accepted."))))
    if not errors:
        return problem_errors(problem)
    return errors


def _validation_errors(exc: msgspec.ValidationError) -> FormErrors:
    """msgspec's message ("... - at `$.policy.slot_minutes`") as a message next to the field."""
    text = str(exc)
    path = text.rsplit("at `$.", 1)[-1].rstrip("`") if "at `$." in text else ""
    name = path.split("[", 1)[0]
    errors = FormErrors()
    message = FIELD_MESSAGES.get(name, N_("This value is not accepted."))
    errors.add(_page_field(name) or "name", _t(message))
    return errors


def _parse_day(value: str | None) -> date | None:
    if not value or len(value) > 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_clock(value: str | None) -> time | None:
    if not value or len(value) != 5:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


def _uuid(value: str | None) -> uuid.UUID | None:
    if not value or len(value) > 40:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _int(value: str, low: int, high: int) -> int | None:
    value = value.strip()
    if not value or len(value) > 7 or not value.isdigit():
        return None
    number = int(value)
    return number if low <= number <= high else None


async def _manager(request: PageRequest) -> Principal:
    principal = await signed_in(request)
    if principal.role not in ("manager", "admin"):
        raise NotFound("No such page.")
    return principal


async def _institution(
    request: PageRequest, institution_id: uuid.UUID
) -> tuple[Principal, InstitutionName]:
    principal = await _manager(request)
    institution = await manage.institution_for(request.app.state.pool, principal, institution_id)
    return principal, institution


async def _today(request: PageRequest, institution: InstitutionName) -> tuple[datetime, date]:
    now = await page_now(request)
    return now, now.astimezone(ZoneInfo(institution.timezone)).date()


def _room_name(name: str, name_en: str | None) -> str:
    return name_en if i18n.current.get().code == "en" and name_en else name


async def _page(
    request: PageRequest,
    template: str,
    institution: InstitutionName,
    section: str,
    title: str,
    *,
    status: int = 200,
    **context: Any,
) -> Template:
    return await render(
        request,
        template,
        status=status,
        title=title,
        institution=institution,
        section=section,
        status_label=_status,
        state_label=lambda s: _label(STATE_LABELS, s),
        state_mark=STATE_MARKS.get,
        **context,
    )


async def _room_page(
    request: PageRequest,
    template: str,
    institution: InstitutionName,
    room: Room,
    title: str,
    *,
    status: int = 200,
    **context: Any,
) -> Template:
    """A page about one room of the institution (opening hours, closures), titled with the room's
    name as the page's language shows it."""
    name = _room_name(room.name, room.name_en)
    return await _page(
        request,
        template,
        institution,
        "rooms",
        _t(title) % {"room": name},
        status=status,
        room=room,
        room_title=name,
        **context,
    )


class ManagerHomeController(Controller):
    path = "/manage"
    include_in_schema = False

    @get("/", name="manage:home")
    async def home(self, request: PageRequest) -> Template | Redirect:
        principal = await _manager(request)
        institutions = await manage.managed_institutions(request.app.state.pool, principal)
        if len(institutions) == 1:
            return redirect(f"/manage/{institutions[0].id}")
        return await render(
            request,
            "manager/home.html",
            title=_t(N_("My institutions")),
            institutions=institutions,
        )


class ManagerController(Controller):
    path = "/manage/{institution_id:uuid}"
    include_in_schema = False

    # --- today ----------------------------------------------------------------------------

    @get("/", name="manage:today")
    async def today(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        _, institution = await _institution(request, institution_id)
        now, day = await _today(request, institution)
        plan = await manage.today_plan(request.app.state.pool, institution, day, now)
        tz = ZoneInfo(institution.timezone)
        days = []
        for n in (0, 1):
            shown = day + timedelta(days=n)
            rooms = []
            for room in plan.rooms:
                own = [
                    b
                    for b in plan.bookings
                    if b.room_id == room.id and b.start.astimezone(tz).date() == shown
                ]
                if room.active or own:
                    rooms.append({"room": room, "bookings": own})
            days.append({"day": shown, "rooms": rooms})
        return await _page(
            request,
            "manager/today.html",
            institution,
            "today",
            _t(N_("Today")),
            days=days,
            pending=plan.pending,
            unpublished=[r for r in plan.rooms if r.active and r.windows == 0],
            room_name=_room_name,
        )

    # --- week calendar --------------------------------------------------------------------

    @get("/calendar", name="manage:calendar")
    async def calendar(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        _, institution = await _institution(request, institution_id)
        _, today = await _today(request, institution)
        asked = _parse_day(request.query_params.get("week")) or today
        monday = asked - timedelta(days=asked.weekday())
        room_id = _uuid(request.query_params.get("room"))
        plan = await manage.week_plan(request.app.state.pool, institution, monday, room_id)
        room_query = f"&room={room_id}" if room_id else ""
        return await _page(
            request,
            "manager/calendar.html",
            institution,
            "calendar",
            _t(N_("Week calendar")),
            monday=monday,
            rooms=plan.rooms,
            all_rooms=plan.all_rooms,
            week_rows=_week_rows(institution, monday, plan),
            room_id=str(room_id) if room_id else "",
            prev_week=(monday - timedelta(days=7)).isoformat(),
            next_week=(monday + timedelta(days=7)).isoformat(),
            room_query=room_query,
            room_name=_room_name,
        )

    # --- rooms ----------------------------------------------------------------------------

    @get("/rooms", name="manage:rooms")
    async def rooms(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        _, institution = await _institution(request, institution_id)
        rooms = await manage.rooms_of(request.app.state.pool, institution)
        return await _page(
            request,
            "manager/rooms.html",
            institution,
            "rooms",
            _t(N_("Rooms")),
            rooms=rooms,
            kind_label=lambda k: _label(ROOM_KIND_LABELS, k),
            room_name=_room_name,
        )

    async def _room_form(
        self,
        request: PageRequest,
        institution: InstitutionName,
        values: dict[str, Any],
        *,
        room_id: uuid.UUID | None,
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        return await _page(
            request,
            "manager/room_form.html",
            institution,
            "rooms",
            _t(N_("Edit room")) if room_id else _t(N_("New room")),
            status=status,
            values=values,
            room_id=room_id,
            errors=errors or FormErrors(),
            kinds=[(k, _label(ROOM_KIND_LABELS, k)) for k in ROOM_KINDS],
            amenities=[(a, _label(AMENITY_LABELS, a)) for a in AMENITIES],
            accessibility=[(a, _label(ACCESSIBILITY_LABELS, a)) for a in ACCESSIBILITY_LABELS],
        )

    @get("/rooms/new", name="manage:room-new")
    async def new_room(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        _, institution = await _institution(request, institution_id)
        return await self._room_form(request, institution, _room_values(None), room_id=None)

    @post("/rooms/new")
    async def create_room(
        self, request: PageRequest, institution_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal, institution = await _institution(request, institution_id)
        form = await request.form()
        values = _room_form_values(form)
        try:
            body = msgspec.convert(_room_body(values), RoomCreate)
            room = await catalogue_rooms.create_room(
                request.app.state.pool, principal, institution.id, body
            )
        except msgspec.ValidationError as exc:
            errors = _validation_errors(exc)
        except Problem as problem:
            if problem.status == 404:
                raise
            errors = _errors_of(problem)
        else:
            request.session["flash"] = "saved"
            return redirect(f"/manage/{institution.id}/rooms/{room.id}/windows")
        return await self._room_form(
            request, institution, values, room_id=None, errors=errors, status=400
        )

    @get("/rooms/{room_id:uuid}", name="manage:room")
    async def edit_room(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Template:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        room = await catalogue_rooms.get_room(request.app.state.pool, principal, room_id)
        return await self._room_form(request, institution, _room_values(room), room_id=room_id)

    @post("/rooms/{room_id:uuid}")
    async def update_room(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        form = await request.form()
        values = _room_form_values(form)
        try:
            body = msgspec.convert(_room_body(values), RoomPatch)
            await catalogue_rooms.patch_room(request.app.state.pool, principal, room_id, body)
        except msgspec.ValidationError as exc:
            errors = _validation_errors(exc)
        except Problem as problem:
            if problem.status == 404:
                raise
            errors = _errors_of(problem)
        else:
            return redirect(f"/manage/{institution.id}/rooms", "saved", request)
        return await self._room_form(
            request, institution, values, room_id=room_id, errors=errors, status=400
        )

    @post("/rooms/{room_id:uuid}/active", name="manage:room-active")
    async def set_active(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Redirect:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        form = await request.form()
        active = form.get("active") == "yes"
        await catalogue_rooms.patch_room(
            request.app.state.pool, principal, room_id, RoomPatch(active=active)
        )
        return redirect(f"/manage/{institution.id}/rooms", "saved", request)

    # --- weekly windows -------------------------------------------------------------------

    async def _windows_page(
        self,
        request: PageRequest,
        institution: InstitutionName,
        room_id: uuid.UUID,
        rows: list[dict[str, Any]],
        validity: dict[str, str],
        *,
        preview: list[Any] | None = None,
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        principal = await _manager(request)
        room = await catalogue_rooms.get_room(request.app.state.pool, principal, room_id)
        return await _room_page(
            request,
            "manager/windows.html",
            institution,
            room,
            N_("Opening hours of %(room)s"),
            status=status,
            rows=rows,
            validity=validity,
            preview=preview,
            weekdays=WEEKDAYS,
            errors=errors or FormErrors(),
        )

    @get("/rooms/{room_id:uuid}/windows", name="manage:windows")
    async def windows(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Template:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        rules = await catalogue_windows.get_rules(request.app.state.pool, principal, room_id)
        rows = [{"days": list(r.days), "start": r.start, "end": r.end} for r in rules]
        validity = {"valid_from": "", "valid_until": ""}
        if rules:
            validity = {
                "valid_from": rules[0].valid_from.isoformat() if rules[0].valid_from else "",
                "valid_until": rules[0].valid_until.isoformat() if rules[0].valid_until else "",
            }
        if not rows:
            rows = [{"days": [], "start": "", "end": ""}]
        preview = [r for r in rules] if rules else None
        return await self._windows_page(
            request, institution, room_id, rows, validity, preview=preview
        )

    @post("/rooms/{room_id:uuid}/windows")
    async def save_windows(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        form = await request.form()
        count = _int(field_text(form, "rows", 3), 0, 50) or 0
        action = field_text(form, "action", 20)
        rows: list[dict[str, Any]] = []
        for n in range(count):
            if action == f"remove-{n}":
                continue
            days = [d for d in form.getall(f"days-{n}", []) if d in WEEKDAYS]
            rows.append(
                {
                    "days": days,
                    "start": field_text(form, f"start-{n}", 5),
                    "end": field_text(form, f"end-{n}", 5),
                }
            )
        if action == "add" and len(rows) < 50:
            rows.append({"days": [], "start": "", "end": ""})
        validity = {
            "valid_from": field_text(form, "valid_from", 10),
            "valid_until": field_text(form, "valid_until", 10),
        }
        if action in ("add",) or action.startswith("remove-"):
            return await self._windows_page(request, institution, room_id, rows, validity)
        errors = FormErrors()
        valid_from = _parse_day(validity["valid_from"]) if validity["valid_from"] else None
        valid_until = _parse_day(validity["valid_until"]) if validity["valid_until"] else None
        if validity["valid_from"] and valid_from is None:
            errors.add("valid_from", _t(N_("Enter a date like 2026-12-05.")))
        if validity["valid_until"] and valid_until is None:
            errors.add("valid_until", _t(N_("Enter a date like 2026-12-05.")))
        windows: list[WeeklyWindowIn] = []
        kept = [r for r in rows if r["days"] or r["start"] or r["end"]]
        for row in kept:
            windows.append(
                WeeklyWindowIn(
                    days=row["days"],
                    start=row["start"],
                    end=row["end"],
                    valid_from=valid_from,
                    valid_until=valid_until,
                )
            )
        preview = None
        if not errors:
            try:
                preview = catalogue_windows.preview_rules(windows)
            except Problem as problem:
                errors = _window_errors(problem, rows, kept)
        if errors or action != "save":
            return await self._windows_page(
                request,
                institution,
                room_id,
                rows or [{"days": [], "start": "", "end": ""}],
                validity,
                preview=preview,
                errors=errors,
                status=400 if errors else 200,
            )
        await catalogue_windows.replace_rules(request.app.state.pool, principal, room_id, windows)
        return redirect(f"/manage/{institution.id}/rooms", "saved", request)

    # --- closures -------------------------------------------------------------------------

    async def _closures_page(
        self,
        request: PageRequest,
        institution: InstitutionName,
        room_id: uuid.UUID,
        values: dict[str, str],
        *,
        hits: list[Any] | None = None,
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        principal = await _manager(request)
        pool = request.app.state.pool
        room = await catalogue_rooms.get_room(pool, principal, room_id)
        now = await page_now(request)
        closures = [
            c
            for c in await catalogue_closures.list_closures(pool, principal, room_id)
            if c.end > now
        ]
        return await _room_page(
            request,
            "manager/closures.html",
            institution,
            room,
            N_("Closures of %(room)s"),
            status=status,
            closures=closures,
            values=values,
            hits=hits,
            errors=errors or FormErrors(),
        )

    @get("/rooms/{room_id:uuid}/closures", name="manage:closures")
    async def closures(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Template:
        _, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        return await self._closures_page(request, institution, room_id, _closure_values({}))

    @post("/rooms/{room_id:uuid}/closures")
    async def add_closure(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        form = await request.form()
        values = _closure_values(form)
        tz = ZoneInfo(institution.timezone)
        errors = FormErrors()
        start = _local(values["start_date"], values["start_time"] or "00:00", tz)
        end = _local(values["end_date"], values["end_time"] or "00:00", tz)
        if values["end_date"] and not values["end_time"] and end is not None:
            end += timedelta(days=1)  # a whole last day
        if start is None:
            errors.add("start_date", _t(FIELD_MESSAGES["start"]))
        if end is None:
            errors.add("end_date", _t(FIELD_MESSAGES["start"]))
        cancel = values["cancel"] == "yes"
        if errors or start is None or end is None:
            return await self._closures_page(
                request, institution, room_id, values, errors=errors, status=400
            )
        body = ClosureCreate(
            start=start,
            end=end,
            reason=values["reason"],
            reason_public=values["reason_public"] == "yes",
            cancel_bookings=cancel,
            cancellation_reason=values["cancellation_reason"],
        )
        try:
            made = await catalogue_closures.create_closure(
                request.app.state.pool, principal, room_id, body
            )
        except Problem as problem:
            if problem.status == 404:
                raise
            if problem.code == "closure-over-bookings":
                ids = [h.id for h in problem.extra.get("bookings", [])]
                covered = await _bookings_by_id(request, institution, start, end, ids)
                return await self._closures_page(
                    request, institution, room_id, values, hits=covered, status=409
                )
            rename = {"end": "end_date", "start": "start_date"}
            errors = _errors_of(problem, rename)
            hits: list[DeskBooking] | None = None
            if "cancellation_reason" in errors.fields:
                hits = await _bookings_by_id(request, institution, start, end, None)
            return await self._closures_page(
                request, institution, room_id, values, hits=hits, errors=errors, status=400
            )
        request.session["flash"] = "closure-cancelled" if made.cancelled_bookings else "saved"
        return redirect(f"/manage/{institution.id}/rooms/{room_id}/closures")

    @post("/rooms/{room_id:uuid}/closures/{closure_id:uuid}/delete", name="manage:closure-del")
    async def remove_closure(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
        closure_id: FromPath[uuid.UUID],
    ) -> Redirect:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        await catalogue_closures.delete_closure(
            request.app.state.pool, principal, room_id, closure_id
        )
        return redirect(f"/manage/{institution.id}/rooms/{room_id}/closures", "saved", request)

    @post("/rooms/{room_id:uuid}/holidays", name="manage:holidays")
    async def holidays(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        room_id: FromPath[uuid.UUID],
    ) -> Redirect:
        principal, institution = await _institution(request, institution_id)
        await manage.room_of(request.app.state.pool, institution, room_id)
        form = await request.form()
        await catalogue_rooms.patch_room(
            request.app.state.pool,
            principal,
            room_id,
            RoomPatch(closed_on_holidays=form.get("closed_on_holidays") == "yes"),
        )
        return redirect(f"/manage/{institution.id}/rooms/{room_id}/closures", "saved", request)

    # --- decisions ------------------------------------------------------------------------

    async def _decide_page(
        self,
        request: PageRequest,
        institution: InstitutionName,
        *,
        errors: FormErrors | None = None,
        status: int = 200,
        reason: str = "",
        selected: list[str] | None = None,
    ) -> Template:
        now = await page_now(request)
        plan = await manage.today_plan(
            request.app.state.pool, institution, now.astimezone(UTC).date(), now
        )
        return await _page(
            request,
            "manager/decide.html",
            institution,
            "decide",
            _t(N_("Requests to decide")),
            status=status,
            pending=plan.pending,
            errors=errors or FormErrors(),
            reason=reason,
            selected=selected or [],
        )

    @get("/decide", name="manage:decide")
    async def decide_list(
        self, request: PageRequest, institution_id: FromPath[uuid.UUID]
    ) -> Template:
        _, institution = await _institution(request, institution_id)
        return await self._decide_page(request, institution)

    @post("/decide")
    async def decide(
        self, request: PageRequest, institution_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal, institution = await _institution(request, institution_id)
        form = await request.form()
        reason = field_text(form, "reason", 500)
        one = field_text(form, "one", 60)
        if one:
            action, _, raw = one.partition(":")
            ids = [raw]
        else:
            action = field_text(form, "action", 10)
            ids = [str(i) for i in form.getall("ids", [])][:200]
        booking_ids = [b for b in (_uuid(i) for i in ids) if b is not None]
        errors = FormErrors()
        if action not in ("approve", "reject"):
            errors.general.append(_t(N_("Choose approve or reject.")))
        if not booking_ids:
            errors.general.append(_t(N_("Choose at least one request.")))
        if action == "reject" and not reason:
            errors.add("reason", _t(N_("Give a reason: the citizen is told.")))
        if errors:
            return await self._decide_page(
                request, institution, errors=errors, status=400, reason=reason, selected=ids
            )
        pool = request.app.state.pool
        done = 0
        for booking_id in booking_ids:
            booking = await reservations.get_booking(pool, principal, booking_id)
            room = await catalogue_rooms.get_room(pool, principal, booking.room_id)
            if room.institution_id != institution.id:
                raise NotFound("No such booking.")
            try:
                if action == "approve":
                    await reservations.approve_booking(pool, principal, booking_id)
                else:
                    await reservations.reject_booking(pool, principal, booking_id, reason)
            except Problem as problem:
                if problem.status == 404:
                    raise
                errors.general.extend(problem_errors(problem).general)
                continue
            done += 1
        if errors:
            return await self._decide_page(request, institution, errors=errors, status=409)
        return redirect(
            f"/manage/{institution.id}/decide",
            "approved" if action == "approve" else "rejected",
            request,
        )

    # --- front desk -----------------------------------------------------------------------

    async def _desk_page(
        self,
        request: PageRequest,
        institution: InstitutionName,
        day: date,
        *,
        walk_in: dict[str, str] | None = None,
        errors: FormErrors | None = None,
        alternatives: list[Any] | None = None,
        status: int = 200,
    ) -> Template:
        pool = request.app.state.pool
        now, today = await _today(request, institution)
        bookings = await manage.day_bookings(pool, institution, day)
        rooms = [r for r in await manage.rooms_of(pool, institution) if r.active]
        opens = lifecycle.CHECK_IN_OPENS_BEFORE
        return await _page(
            request,
            "manager/desk.html",
            institution,
            "desk",
            _t(N_("Front desk")),
            status=status,
            day=day,
            today=today,
            prev_day=(day - timedelta(days=1)).isoformat(),
            next_day=(day + timedelta(days=1)).isoformat(),
            bookings=bookings,
            can_check_in=lambda b: b.status == "confirmed" and b.start - opens <= now < b.end,
            can_no_show=lambda b: b.status == "confirmed" and b.start <= now,
            rooms=rooms,
            walk_in=walk_in or _walk_in_values({}, day),
            errors=errors or FormErrors(),
            alternatives=alternatives,
            room_name=_room_name,
        )

    @get("/desk", name="manage:desk")
    async def desk(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        _, institution = await _institution(request, institution_id)
        _, today = await _today(request, institution)
        day = _parse_day(request.query_params.get("day")) or today
        return await self._desk_page(request, institution, day)

    @post("/desk/{booking_id:uuid}/{action:str}", name="manage:desk-action")
    async def desk_action(
        self,
        request: PageRequest,
        institution_id: FromPath[uuid.UUID],
        booking_id: FromPath[uuid.UUID],
        action: FromPath[str],
    ) -> Template | Redirect:
        principal, institution = await _institution(request, institution_id)
        pool = request.app.state.pool
        booking = await reservations.get_booking(pool, principal, booking_id)
        room = await catalogue_rooms.get_room(pool, principal, booking.room_id)
        if room.institution_id != institution.id or action not in ("check-in", "no-show"):
            raise NotFound("No such booking.")
        now = await page_now(request)
        day = booking.start.astimezone(ZoneInfo(institution.timezone)).date()
        try:
            if action == "check-in":
                await lifecycle.check_in(pool, principal, booking_id, now, at_desk=True)
            else:
                await lifecycle.mark_no_show(pool, principal, booking_id, now)
        except Problem as problem:
            if problem.status == 404:
                raise
            errors = problem_errors(problem)
            if problem.code == "no-show-too-early":
                errors = FormErrors(general=[_t(N_("It has not started yet."))])
            return await self._desk_page(request, institution, day, errors=errors, status=409)
        flash = "checked-in-desk" if action == "check-in" else "no-show"
        return redirect(f"/manage/{institution.id}/desk?day={day.isoformat()}", flash, request)

    @post("/desk/walk-in", name="manage:walk-in")
    async def walk_in(
        self, request: PageRequest, institution_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal, institution = await _institution(request, institution_id)
        pool = request.app.state.pool
        form = await request.form()
        _, today = await _today(request, institution)
        day = _parse_day(field_text(form, "day", 10)) or today
        values = _walk_in_values(form, day)
        tz = ZoneInfo(institution.timezone)
        errors = FormErrors()
        room_id = _uuid(values["room"])
        start = _local(values["day"], values["start"], tz)
        end = _local(values["day"], values["end"], tz)
        if end is not None and start is not None and end <= start and values["end"] == "00:00":
            end += timedelta(days=1)
        people = _int(values["attendees"], 1, 100_000)
        if room_id is None:
            errors.add("room", _t(N_("Choose a room.")))
        if start is None:
            errors.add("start", _t(N_("Enter a time like 19:00.")))
        if end is None:
            errors.add("end", _t(N_("Enter a time like 19:00.")))
        if people is None:
            errors.add("attendees", _t(FIELD_MESSAGES["attendees"]))
        if not values["person"]:
            errors.add("person", _t(FIELD_MESSAGES["person"]))
        if not values["phone"]:
            errors.add("phone", _t(FIELD_MESSAGES["phone"]))
        if errors or room_id is None or start is None or end is None or people is None:
            return await self._desk_page(
                request, institution, day, walk_in=values, errors=errors, status=400
            )
        await manage.room_of(pool, institution, room_id)
        try:
            await book_walk_in(
                pool,
                principal,
                WalkIn(
                    room_id=room_id,
                    start=start,
                    end=end,
                    attendees=people,
                    purpose=values["purpose"],
                    name=values["person"],
                    phone=values["phone"],
                    email=values["email"] or None,
                ),
            )
        except Problem as problem:
            if problem.status == 404:
                raise
            alternatives = None
            if problem.code == "slot-taken":
                errors = FormErrors(general=[_t(N_("This time was just taken."))])
                alternatives = [(a.start, a.end) for a in problem.extra.get("alternatives", [])]
            else:
                errors = _errors_of(problem, {"name": "person"})
            return await self._desk_page(
                request,
                institution,
                day,
                walk_in=values,
                errors=errors,
                alternatives=alternatives,
                status=409 if alternatives is not None else 400,
            )
        return redirect(f"/manage/{institution.id}/desk?day={day.isoformat()}", "walk-in", request)

    # --- bookings list and CSV ------------------------------------------------------------

    def _filters(
        self, request: PageRequest, institution: InstitutionName
    ) -> tuple[dict[str, str], dict[str, Any], FormErrors]:
        query = request.query_params
        values = {
            "room": (query.get("room") or "")[:40],
            "status": (query.get("status") or "")[:20],
            "from": (query.get("from") or "")[:10],
            "to": (query.get("to") or "")[:10],
        }
        tz = ZoneInfo(institution.timezone)
        errors = FormErrors()
        args: dict[str, Any] = {"status": None, "room_id": None, "window_from": None}
        args["window_to"] = None
        if values["status"]:
            if values["status"] in MANAGER_STATUS_LABELS:
                args["status"] = values["status"]
            else:
                errors.add("status", _t(N_("Choose a status from the list.")))
        if values["room"]:
            args["room_id"] = _uuid(values["room"])
            if args["room_id"] is None:
                errors.add("room", _t(N_("Choose a room.")))
        for name, key in (("from", "window_from"), ("to", "window_to")):
            if values[name]:
                day = _parse_day(values[name])
                if day is None:
                    errors.add(name, _t(N_("Enter a date like 2026-12-05.")))
                else:
                    if name == "to":
                        day += timedelta(days=1)
                    args[key] = datetime.combine(day, time(0), tzinfo=tz)
        return values, args, errors

    @get("/bookings", name="manage:bookings")
    async def bookings(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        principal, institution = await _institution(request, institution_id)
        pool = request.app.state.pool
        values, args, errors = self._filters(request, institution)
        items: list[Any] = []
        next_cursor = None
        if not errors:
            try:
                page = await reservations.list_institution_bookings(
                    pool,
                    principal,
                    institution.id,
                    cursor=(request.query_params.get("cursor") or "")[:200] or None,
                    limit=50,
                    **args,
                )
            except Problem as problem:
                if problem.status == 404:
                    raise
                errors = _errors_of(problem)
            else:
                items, next_cursor = page.items, page.next_cursor
        rooms = await manage.rooms_of(pool, institution)
        names = {r.id: _room_name(r.name, r.name_en) for r in rooms}
        params = [(k, v) for k, v in values.items() if v]
        more = None
        if next_cursor:
            more = f"/manage/{institution.id}/bookings?" + urlencode(
                [*params, ("cursor", next_cursor)]
            )
        https_url, webcal_url = await feeds.calendar_urls(
            pool, request.app.state.settings, principal
        )
        return await _page(
            request,
            "manager/bookings.html",
            institution,
            "bookings",
            _t(N_("Bookings")),
            status=400 if errors else 200,
            values=values,
            errors=errors,
            items=items,
            rooms=rooms,
            names=names,
            statuses=[(s, _status(s)) for s in MANAGER_STATUS_LABELS],
            more=more,
            csv_url=f"/manage/{institution.id}/bookings.csv?" + urlencode(params),
            feed_url=https_url,
            webcal_url=webcal_url,
            room_name=_room_name,
        )

    @get("/bookings.csv", name="manage:bookings-csv")
    async def bookings_csv(
        self, request: PageRequest, institution_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        principal, institution = await _institution(request, institution_id)
        pool = request.app.state.pool
        _, args, errors = self._filters(request, institution)
        if errors:
            raise Problem("Invalid filters.", status=400)
        rooms = {r.id: r.name for r in await manage.rooms_of(pool, institution)}
        tz = ZoneInfo(institution.timezone)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                _t(N_("Booking")),
                _t(N_("Room")),
                _t(N_("Starts")),
                _t(N_("Ends")),
                _t(N_("Status")),
                _t(N_("Number of people")),
                _t(N_("Purpose")),
                _t(N_("Name")),
            ]
        )
        cursor = None
        for _ in range(200):  # at most 100,000 rows
            page = await reservations.list_institution_bookings(
                pool, principal, institution.id, cursor=cursor, limit=500, **args
            )
            for b in page.items:
                writer.writerow(
                    [
                        str(b.id),
                        rooms.get(b.room_id, ""),
                        b.start.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                        b.end.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                        _status(b.status),
                        b.attendees,
                        spreadsheet_safe(b.purpose),
                        spreadsheet_safe(b.citizen_name or ""),
                    ]
                )
            cursor = page.next_cursor
            if not cursor:
                break
        return csv_attachment(out.getvalue(), "nanum-bookings.csv")

    # --- use ------------------------------------------------------------------------------

    @get("/use", name="manage:use")
    async def use(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        _, institution = await _institution(request, institution_id)
        pool = request.app.state.pool
        rooms = [r for r in await manage.rooms_of(pool, institution)]
        chosen = _uuid(request.query_params.get("room"))
        if chosen is not None and chosen not in {r.id for r in rooms}:
            raise NotFound("No such room.")
        if chosen is None and rooms:
            chosen = rooms[0].id
        now = await page_now(request)
        months: list[date] = []
        figures: list[RoomUse] = []
        if chosen is not None:
            months, figures = await manage.use_figures(pool, institution, [chosen], now)
        by_month = {f.month: f for f in figures}
        table = [_use_row(m, by_month.get(m)) for m in months]
        weekday_totals = [sum(f.by_weekday[d] for f in figures) for d in range(7)]
        hour_totals = [sum(f.by_hour[h] for f in figures) for h in range(24)]
        busiest_day = (
            max(range(7), key=lambda d: weekday_totals[d]) if any(weekday_totals) else None
        )
        busiest_hour = max(range(24), key=lambda h: hour_totals[h]) if any(hour_totals) else None
        return await _page(
            request,
            "manager/use.html",
            institution,
            "use",
            _t(N_("Use of the rooms")),
            rooms=rooms,
            chosen=str(chosen) if chosen else "",
            table=table,
            weekday_totals=weekday_totals,
            hour_totals=hour_totals,
            weekday_names=[i18n.weekday_name(d) for d in WEEKDAYS],
            busiest_day=i18n.weekday_name(WEEKDAYS[busiest_day])
            if busiest_day is not None
            else None,
            busiest_hour=busiest_hour,
            month_label=_month_label,
            month_labels=[_month_label(m) for m in months],
            hour_labels=[f"{h:02d}" for h in range(24)],
            room_name=_room_name,
        )


def _month_label(month: date) -> str:
    if i18n.current.get().code == "ko":
        return f"{month.year % 100:02d}.{month.month:02d}"
    return month.strftime("%b %y")


def _use_row(month: date, use: RoomUse | None) -> dict[str, Any]:
    if use is None:
        return {"month": month, "open": 0.0, "booked": 0.0, "rate": 0.0, "bookings": 0}
    open_h = float(use.open_hours)
    booked = float(use.booked_hours)
    return {
        "month": month,
        "open": open_h,
        "booked": booked,
        "rate": round(100 * booked / open_h, 1) if open_h else 0.0,
        "bookings": use.bookings,
        "no_shows": use.no_shows,
        "no_show_rate": round(100 * use.no_shows / use.bookings, 1) if use.bookings else 0.0,
        "cancellations": use.cancellations,
    }


def _local(day_text: str, clock_text: str, tz: ZoneInfo) -> datetime | None:
    day = _parse_day(day_text)
    clock = _parse_clock(clock_text)
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=tz)


class _Piece(NamedTuple):
    """One piece of a room's day in the week calendar, as the page prints it."""

    state: str
    mark: str
    clock: str
    words: str
    """The state in words, and the person's name for a booking."""
    href: str | None
    """The booking in the bookings list (its day, its room), for a booking."""


def _week_rows(
    institution: InstitutionName, monday: date, plan: manage.WeekPlan
) -> list[tuple[date, list[list[_Piece]]]]:
    """The calendar's table: per day, per room, its pieces, ready to print. A busy week has
    ≈ 1,700 pieces: every mark, word and link is made here in one pass, so that the template
    makes no lookup or call per piece (this took the page from ≈ 45 to ≈ 5 ms of rendering)."""
    states = {s: (STATE_MARKS[s], _t(label)) for s, label in STATE_LABELS.items()}
    base = f"/manage/{institution.id}/bookings?room="
    rows: list[tuple[date, list[list[_Piece]]]] = []
    for n in range(7):
        day = monday + timedelta(days=n)
        iso = day.isoformat()
        cells: list[list[_Piece]] = []
        for column in plan.columns:
            cell = column[n]
            link = f"{base}{cell.room.id}&from={iso}&to={iso}#b-"
            pieces: list[_Piece] = []
            for s in cell.segments:
                mark, words = states[s.state]
                if s.booking is None:
                    pieces.append(_Piece(s.state, mark, s.clock, words, None))
                else:
                    name = f"{words}: {s.booking.person_name}"
                    pieces.append(_Piece(s.state, mark, s.clock, name, f"{link}{s.booking.id}"))
            cells.append(pieces)
        rows.append((day, cells))
    return rows


async def _bookings_by_id(
    request: PageRequest,
    institution: InstitutionName,
    start: datetime,
    end: datetime,
    ids: list[uuid.UUID] | None,
) -> list[DeskBooking]:
    """The bookings a closure would cover, with their people (for the manager to see)."""
    pool = request.app.state.pool
    tz = ZoneInfo(institution.timezone)
    found: list[DeskBooking] = []
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last and len(found) < 500:
        found.extend(await manage.day_bookings(pool, institution, day))
        day += timedelta(days=1)
    unique = {b.id: b for b in found}
    if ids is None:
        return [b for b in unique.values() if b.start < end and b.end > start]
    return [unique[i] for i in ids if i in unique]


def _room_values(room: Any) -> dict[str, Any]:
    if room is None:
        return {
            "name": "",
            "name_en": "",
            "kind": "meeting_room",
            "capacity": "",
            "area_m2": "",
            "floor": "",
            "amenities": [],
            "accessibility": [],
            "photo": "",
            "slot_minutes": "30",
            "min_minutes": "60",
            "max_minutes": "240",
            "lead_minutes": "60",
            "horizon_days": "60",
            "max_active_per_citizen": "4",
            "requires_approval": False,
            "note": "",
        }
    p = room.policy
    return {
        "name": room.name,
        "name_en": room.name_en or "",
        "kind": room.kind,
        "capacity": str(room.capacity),
        "area_m2": "" if room.area_m2 is None else f"{room.area_m2:g}",
        "floor": room.floor or "",
        "amenities": list(room.amenities),
        "accessibility": list(room.accessibility),
        "photo": room.photos[0] if room.photos else "",
        "slot_minutes": str(p.slot_minutes),
        "min_minutes": str(p.min_minutes),
        "max_minutes": str(p.max_minutes),
        "lead_minutes": str(p.lead_minutes),
        "horizon_days": str(p.horizon_days),
        "max_active_per_citizen": str(p.max_active_per_citizen),
        "requires_approval": p.requires_approval,
        "note": room.note or "",
    }


def _room_form_values(form: Any) -> dict[str, Any]:
    values = _room_values(None)
    for key in values:
        if isinstance(values[key], str):
            values[key] = field_text(form, key, 2000 if key == "photo" else 500)
    values["amenities"] = [a for a in form.getall("amenities", []) if a in AMENITIES]
    values["accessibility"] = [
        a for a in form.getall("accessibility", []) if a in ACCESSIBILITY_LABELS
    ]
    values["requires_approval"] = form.get("requires_approval") == "yes"
    return values


def _number(text: str) -> int | float | str | None:
    """A typed number as a number (so the schema's limits speak), else the text (refused)."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _room_body(values: dict[str, Any]) -> dict[str, Any]:
    """The API's body from the form; the schema and the service validate it."""
    policy = {
        key: _number(values[key])
        for key in (
            "slot_minutes",
            "min_minutes",
            "max_minutes",
            "lead_minutes",
            "horizon_days",
            "max_active_per_citizen",
        )
    }
    policy["requires_approval"] = values["requires_approval"]
    return {
        "name": values["name"],
        "name_en": values["name_en"] or None,
        "kind": values["kind"],
        "capacity": _number(values["capacity"]) if values["capacity"] else 0,
        "area_m2": _number(values["area_m2"]),
        "floor": values["floor"] or None,
        "amenities": values["amenities"],
        "accessibility": values["accessibility"],
        "photos": [values["photo"]] if values["photo"] else [],
        "policy": {k: v for k, v in policy.items() if v is not None},
        "note": values["note"] or None,
    }


def _window_errors(
    problem: Problem, rows: list[dict[str, Any]], kept: list[dict[str, Any]]
) -> FormErrors:
    """``[n].start`` of the kept rows as the field of that row on the page."""
    errors = FormErrors()
    for item in problem.errors or []:
        index, _, name = item.field.partition("].")
        try:
            n = rows.index(kept[int(index.lstrip("["))])
        except (ValueError, IndexError):
            n = 0
        message = FIELD_MESSAGES.get(name, N_("This value is not accepted."))
        if name in ("start", "end"):
            message = N_("Enter a time like 19:00 (an end of 24:00 is the end of the day).")
            if "cannot end when it starts" in (item.message or ""):
                message = N_("The end cannot be the same as the start.")
        errors.add(f"{name}-{n}", _t(message))
    if not errors:
        errors.general.append(_t(N_("That did not work. Check the details and try again.")))
    return errors


def _closure_values(form: Any) -> dict[str, str]:
    def get(name: str) -> str:
        return field_text(form, name, 500) if form else ""

    return {
        "start_date": get("start_date")[:10],
        "start_time": get("start_time")[:5],
        "end_date": get("end_date")[:10],
        "end_time": get("end_time")[:5],
        "reason": get("reason"),
        "cancel": get("cancel")[:3],
        "cancellation_reason": get("cancellation_reason"),
        "reason_public": "yes" if get("reason_public") == "yes" else "no",
    }


def _walk_in_values(form: Any, day: date) -> dict[str, str]:
    def get(name: str, limit: int) -> str:
        return field_text(form, name, limit) if form else ""

    return {
        "day": day.isoformat(),
        "room": get("room", 40),
        "start": get("start", 5),
        "end": get("end", 5),
        "attendees": get("attendees", 6),
        "purpose": get("purpose", 500),
        "person": get("person", 100),
        "phone": get("phone", 30),
        "email": get("email", 320),
    }


MANAGER_ROUTES = [ManagerHomeController, ManagerController]
