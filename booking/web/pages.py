"""Shared plumbing of the page handlers: who is signed in, rendering, redirects, form fields,
and problems from the services turned into messages next to the fields, in the page language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import asyncpg
from litestar import Request, Response
from litestar.datastructures import State
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from booking.accounts.auth import Principal
from booking.errors import Problem, database_problem
from booking.spreadsheet import utf8_with_bom
from booking.web import i18n
from booking.web.sessions import page_principal
from booking.web.templating import N_

__all__ = (
    "FLASH",
    "FormErrors",
    "PageRequest",
    "SignInRequired",
    "csv_attachment",
    "error_page",
    "field_text",
    "problem_errors",
    "redirect",
    "render",
    "signed_in",
    "wants_part",
)

PageRequest = Request[Any, Any, State]
_VIEWER = "nanum.viewer"

FLASH: dict[str, str] = {
    "signed-in": N_("You are signed in."),
    "signed-out": N_("You are signed out."),
    "verified": N_("Your e-mail address is confirmed and you are signed in."),
    "password-reset": N_("Your new password is set. Sign in with it."),
    "cancelled": N_("Your booking is cancelled."),
    "rescheduled": N_("Your booking has moved to the new time."),
    "checked-in": N_("You are checked in. Enjoy the room."),
    "rotated": N_("Your calendar address is new; the old one no longer works."),
}


class SignInRequired(Exception):
    """Raised by a page that needs an account; answered with a redirect to sign-in and back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class FormErrors:
    """Messages by field (already translated), shown next to each field and in a summary."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


async def viewer(request: PageRequest) -> Principal | None:
    """The signed-in account of this request (looked up once per request)."""
    if _VIEWER in request.scope:
        cached: Principal | None = request.scope[_VIEWER]  # type: ignore[literal-required]
        return cached
    pool: asyncpg.Pool = request.app.state.pool
    session = request.session if "session" in request.scope else {}
    principal = await page_principal(pool, session)
    request.scope[_VIEWER] = principal  # type: ignore[literal-required]
    return principal


async def signed_in(request: PageRequest) -> Principal:
    principal = await viewer(request)
    if principal is None:
        raise SignInRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return principal


def redirect(path: str, flash: str | None = None, request: PageRequest | None = None) -> Redirect:
    """303 See Other, so a reload after a form post never posts again."""
    if flash is not None and request is not None:
        request.session["flash"] = flash
    return Redirect(path, status_code=HTTP_303_SEE_OTHER)


def _context(request: PageRequest, principal: Principal | None, title: str) -> dict[str, Any]:
    session = request.session if "session" in request.scope else {}
    flash_key = session.pop("flash", None) if session else None
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "viewer": principal,
        "title": title,
        "flash": i18n.gettext(FLASH[flash_key]) if flash_key in FLASH else None,
        "here": here,
        "here_quoted": quote(here, safe=""),
        "path": request.url.path,
        "errors": FormErrors(),
    }


async def render(
    request: PageRequest,
    template: str,
    *,
    status: int = 200,
    title: str = "",
    **context: Any,
) -> Template:
    principal = await viewer(request)
    return Template(
        template_name=template,
        context={**_context(request, principal, title), **context},
        status_code=status,
    )


def wants_part(request: PageRequest, target: str) -> bool:
    """htmx asks for the part of the page with the id ``target`` only (the same address without
    JavaScript gives the whole page)."""
    return (
        request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == target
    )


def csv_attachment(text: str, filename: str) -> Response[bytes]:
    """CSV text as a download (UTF-8 with BOM), never cached."""
    return Response(
        utf8_with_bom(text),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def field_text(form: Any, name: str, max_length: int = 500) -> str:
    """A text field of a posted form: trimmed, one value, at most ``max_length`` characters (a
    longer value is cut, and the service's own limits still apply)."""
    value = form.get(name, "")
    if not isinstance(value, str):
        return ""
    # Control characters (NUL above all, which Postgres text refuses) never belong in a field.
    value = "".join(c for c in value[: max_length * 2] if c >= " " or c in "\n\t")
    return value.strip()[:max_length]


# Messages for the problems the services raise, by field or policy rule.
_FIELD_MESSAGES: dict[str, str] = {
    "email": N_("Enter an e-mail address like name@example.com."),
    "password": N_("Use at least 10 characters."),
    "name": N_("Enter your name."),
    "attendees": N_("Enter the number of people, 1 or more."),
    "purpose": N_("Describe the purpose in at most 500 characters."),
    "end": N_("Choose an end time after the start."),
    "start": N_("Choose a start time."),
    "district": N_("Choose one of Seoul's 25 districts."),
    "min_capacity": N_("Enter the number of people, 1 or more."),
    "q": N_("Use 1 to 100 characters."),
    "near": N_("Your location could not be read; choose a district instead."),
    "free_to": N_("Choose a later end time."),
    "cursor": N_("That page of results has expired; search again."),
}
_RULE_MESSAGES: dict[str, tuple[str, str]] = {
    "capacity": ("attendees", N_("More people than this room holds.")),
    "slot_alignment": ("end", N_("The times must fall on the room's time grid.")),
    "min_duration": ("end", N_("Shorter than this room's minimum booking.")),
    "max_duration": ("end", N_("Longer than this room's maximum booking.")),
    "lead_time": ("start", N_("This time is too soon to book; choose a later one.")),
    "horizon": ("start", N_("This time is too far ahead to book yet.")),
    "outside_opening_hours": ("start", N_("The room is not open for all of this time.")),
    "active_limit": (
        "start",
        N_("You already hold as many upcoming bookings of this room as allowed."),
    ),
    "room_inactive": ("start", N_("This room does not take bookings now.")),
}
_CODE_MESSAGES: dict[str, str] = {
    "registration-refused": N_(
        "This e-mail address cannot be registered. If it is yours, sign in."
    ),
    "invalid-credentials": N_("The e-mail address or password is not right."),
    "too-many-requests": N_("Too many attempts. Wait a few minutes and try again."),
    "idempotency-key-reused": N_(
        "This form was already sent with other details. Check them and send it again."
    ),
    "idempotency-in-flight": N_("Your booking is still being made. Wait a moment and reload."),
    "illegal-transition": N_("This booking cannot be changed in its present state."),
    "check-in-not-open": N_("Check-in opens 15 minutes before the start."),
    "check-in-closed": N_("Check-in has closed for this booking."),
    "check-in-refused": N_("This booking cannot be checked in."),
    "forbidden": N_("Your account cannot do this."),
    "email-unverified": N_(
        "Confirm your e-mail address first: open the link in the e-mail we sent you."
    ),
    "own-booking": N_("Nobody may decide on their own booking."),
    "invalid-token": N_(
        "This link is not valid: it was used already, it expired, or it was mistyped."
    ),
}


def problem_errors(problem: Problem | asyncpg.PostgresError) -> FormErrors:
    """A service's refusal as messages for the form, in the page language."""
    if isinstance(problem, asyncpg.PostgresError):
        mapped = database_problem(problem)
        if mapped is None:
            raise problem
        problem = mapped
    errors = FormErrors()
    rule = problem.extra.get("rule")
    if isinstance(rule, str) and rule in _RULE_MESSAGES:
        name, message = _RULE_MESSAGES[rule]
        errors.add(name, i18n.gettext(message))
        return errors
    if problem.code in _CODE_MESSAGES:
        errors.general.append(i18n.gettext(_CODE_MESSAGES[problem.code]))
        return errors
    for item in problem.errors or []:
        text = _FIELD_MESSAGES.get(item.field, N_("This value is not accepted."))
        errors.add(item.field, i18n.gettext(text))
    if not errors:
        errors.general.append(
            i18n.gettext(N_("That did not work. Check the details and try again."))
        )
    return errors


def http_error_page(status: int) -> tuple[str, str]:
    """Title and explanation of an error page."""
    texts = {
        400: (N_("This request is not valid"), N_("Check the address or the form and try again.")),
        403: (
            N_("This form has expired"),
            N_(
                "For your safety the form could not be sent. Go back, reload the page and try again."
            ),
        ),
        404: (N_("Page not found"), N_("The page or booking does not exist, or is not yours.")),
        405: (N_("This request is not valid"), N_("Check the address or the form and try again.")),
        409: (N_("Not possible now"), N_("This booking cannot be changed in its present state.")),
        413: (N_("Too large to send"), N_("What you sent is larger than this form accepts.")),
        429: (N_("Too many requests"), N_("Wait a few minutes and try again.")),
    }
    title, text = texts.get(status, (N_("Something went wrong"), N_("Please try again later.")))
    return i18n.gettext(title), i18n.gettext(text)


def error_page(request: PageRequest, status: int, message: str | None = None) -> Template:
    """An error page, rendered without further queries (exception handlers run synchronously);
    the header shows the account if the handler had already looked it up. ``message`` (already
    translated) replaces the status's usual explanation."""
    title, text = http_error_page(status)
    text = message or text
    principal: Principal | None = request.scope.get(_VIEWER)  # type: ignore[assignment]
    return Template(
        template_name="pages/error.html",
        context={**_context(request, principal, title), "message": text},
        status_code=status,
    )
