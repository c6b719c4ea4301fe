"""HTTP handlers of calendar feeds (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, HttpMethod, Request, Response, get, post, route
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from booking.deps import CurrentUser
from booking.errors import NotFound, problem_spec
from booking.feeds import service
from booking.feeds.service import Conditions, FeedAnswer
from booking.http import SECURITY, parse_instant, pool_of, settings_of
from schemas.feeds import CalendarUrls

__all__ = (
    "ROUTES",
    "BookingEventController",
    "InstitutionFeedController",
    "MyCalendarController",
    "PrivateFeedController",
    "RoomFeedController",
)

CALENDAR_MEDIA_TYPE = "text/calendar"
_FEED_METHODS = [HttpMethod.GET, HttpMethod.HEAD]
_FEED_DESCRIPTION = (
    "An iCalendar (RFC 5545) subscription feed in UTC, for Google, Apple, Outlook and "
    "Thunderbird. By default it covers 30 days back to 365 days ahead; `from`/`to` choose "
    "another window of at most two years. Cancelled and rejected bookings stay as "
    "`STATUS:CANCELLED` for 30 days, pending ones are `TENTATIVE`. Conditional GET: a strong "
    "`ETag` (`If-None-Match` wins over `If-Modified-Since`) and `Last-Modified`; `HEAD` works."
)


def _calendar_spec(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=str,
        description=description,
        media_type=CALENDAR_MEDIA_TYPE,
        generate_examples=False,
    )


_NOT_MODIFIED = ResponseSpec(
    data_container=None,
    description="Not modified: the ETag matched (or nothing changed since If-Modified-Since)",
    generate_examples=False,
)
_BAD_WINDOW = problem_spec("`from`/`to` malformed, reversed, or more than two years apart")

FromParam = Annotated[
    str | None,
    QueryParameter(
        name="from",
        description="Window start, RFC 3339 with an offset (default: 30 days ago, 00:00 UTC)",
        examples=[],
    ),
]
ToParam = Annotated[
    str | None,
    QueryParameter(
        description="Window end, RFC 3339 with an offset (default: 365 days ahead); at most "
        "two years after `from`",
        examples=[],
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(name="If-None-Match", description="ETag(s) of a copy the client holds"),
]
IfModifiedSince = Annotated[
    str | None,
    HeaderParameter(
        name="If-Modified-Since",
        description="HTTP date; ignored when If-None-Match is sent",
    ),
]


def _per_method(name: str) -> Callable[[Any, Any, Any], str]:
    """Feeds answer GET and HEAD; OpenAPI needs one operation id per method."""

    def operation_id(_handler: Any, method: Any, _path: Any) -> str:
        return name if method == HttpMethod.GET else f"head{name[3:]}"

    return operation_id


def _window(from_: str | None, to: str | None) -> service.FeedWindow:
    return service.feed_window(
        datetime.now(UTC), parse_instant(from_, "from"), parse_instant(to, "to")
    )


def _respond(request: Request[Any, Any, Any], answer: FeedAnswer, **extra: str) -> Response[bytes]:
    headers = {**answer.headers(), **extra}
    if answer.body is None:
        return Response(content=b"", status_code=304, headers=headers)
    if request.method == HttpMethod.HEAD:
        headers["Content-Length"] = str(len(answer.body))
        return Response(
            content=b"", status_code=200, headers=headers, media_type=CALENDAR_MEDIA_TYPE
        )
    return Response(
        content=answer.body, status_code=200, headers=headers, media_type=CALENDAR_MEDIA_TYPE
    )


class RoomFeedController(Controller):
    path = "/v1/rooms/{room_id:uuid}/calendar.ics"
    tags = ["feeds"]

    @route(
        "/",
        http_method=_FEED_METHODS,
        operation_id=_per_method("getRoomCalendar"),
        summary="Public busy feed of a room (no personal data)",
        description=_FEED_DESCRIPTION
        + " Each booking is a busy block `Reserved / 예약됨` (or its purpose, if the booker "
        "made it public); nothing names the booker.",
        responses={
            200: _calendar_spec("The room's feed"),
            304: _NOT_MODIFIED,
            404: problem_spec("No such room"),
            422: _BAD_WINDOW,
        },
    )
    async def room_calendar(
        self,
        request: Request[Any, Any, Any],
        room_id: FromPath[uuid.UUID],
        from_: FromParam = None,
        to: ToParam = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        answer = await service.room_feed(
            pool_of(request),
            settings_of(request),
            room_id,
            _window(from_, to),
            Conditions(if_none_match, if_modified_since),
        )
        return _respond(request, answer)


class InstitutionFeedController(Controller):
    path = "/v1/institutions/{institution_id:uuid}/calendar.ics"
    tags = ["feeds"]

    @route(
        "/",
        http_method=_FEED_METHODS,
        operation_id=_per_method("getInstitutionCalendar"),
        summary="Public busy feed of every room of an institution (the room as LOCATION)",
        description=_FEED_DESCRIPTION,
        responses={
            200: _calendar_spec("The institution's feed"),
            304: _NOT_MODIFIED,
            404: problem_spec("No such institution"),
            422: _BAD_WINDOW,
        },
    )
    async def institution_calendar(
        self,
        request: Request[Any, Any, Any],
        institution_id: FromPath[uuid.UUID],
        from_: FromParam = None,
        to: ToParam = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        answer = await service.institution_feed(
            pool_of(request),
            settings_of(request),
            institution_id,
            _window(from_, to),
            Conditions(if_none_match, if_modified_since),
        )
        return _respond(request, answer)


class PrivateFeedController(Controller):
    path = "/v1/calendars"
    tags = ["feeds"]

    @route(
        "/{feed:str}",
        http_method=_FEED_METHODS,
        operation_id=_per_method("getPrivateCalendar"),
        summary="Private feed behind a secret URL: own bookings, plus managed institutions' ones",
        description=_FEED_DESCRIPTION
        + " The path is `<token>.ics` from `GET /v1/me/calendar`. A citizen sees their own "
        "bookings in full; a manager also sees every booking of the institutions they manage, "
        "pending ones included, with the booker's name and attendee count. A rotated token "
        "answers 404.",
        responses={
            200: _calendar_spec("The holder's feed"),
            304: _NOT_MODIFIED,
            404: problem_spec("No such calendar (unknown or rotated token)"),
            422: _BAD_WINDOW,
        },
    )
    async def private_calendar(
        self,
        request: Request[Any, Any, Any],
        feed: FromPath[str],
        from_: FromParam = None,
        to: ToParam = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        token = feed.removesuffix(".ics")
        if token == feed or not token:
            raise NotFound("No such calendar.")
        answer = await service.private_feed(
            pool_of(request),
            settings_of(request),
            token,
            _window(from_, to),
            Conditions(if_none_match, if_modified_since),
        )
        # The URL is the secret: keep it out of Referer headers and search engines.
        return _respond(
            request, answer, **{"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
        )


class MyCalendarController(Controller):
    path = "/v1/me/calendar"
    tags = ["feeds"]
    security = SECURITY

    @get(
        "/",
        operation_id="getMyCalendarUrl",
        summary="The caller's private feed URL (https and webcal), created on first call",
        responses={401: problem_spec("Not signed in")},
        cache_control=None,
    )
    async def my_calendar(
        self, request: Request[Any, Any, Any], principal: CurrentUser
    ) -> Response[CalendarUrls]:
        https_url, webcal_url = await service.calendar_urls(
            pool_of(request), settings_of(request), principal
        )
        return Response(
            CalendarUrls(https_url=https_url, webcal_url=webcal_url),
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/rotate",
        operation_id="rotateMyCalendarUrl",
        summary="Issue a new private feed URL; the old one answers 404 at once",
        status_code=200,
        responses={401: problem_spec("Not signed in")},
    )
    async def rotate(
        self, request: Request[Any, Any, Any], principal: CurrentUser
    ) -> Response[CalendarUrls]:
        https_url, webcal_url = await service.rotate_calendar_token(
            pool_of(request), settings_of(request), principal
        )
        return Response(
            CalendarUrls(https_url=https_url, webcal_url=webcal_url),
            headers={"Cache-Control": "no-store"},
        )


class BookingEventController(Controller):
    path = "/v1/bookings/{booking_id:uuid}/event.ics"
    tags = ["feeds"]
    security = SECURITY

    @route(
        "/",
        http_method=_FEED_METHODS,
        operation_id=_per_method("getBookingEvent"),
        summary="One booking as an .ics file, for 'add to calendar' (its citizen, its managers)",
        description="The same UID, SEQUENCE and details as in the private feed.",
        responses={
            200: _calendar_spec("The booking as a one-event calendar"),
            304: _NOT_MODIFIED,
            401: problem_spec("Not signed in"),
            404: problem_spec("No such booking (for you)"),
        },
    )
    async def booking_event(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        answer = await service.booking_event_feed(
            pool_of(request),
            settings_of(request),
            principal,
            booking_id,
            Conditions(if_none_match, if_modified_since),
        )
        return _respond(
            request,
            answer,
            **{"Content-Disposition": f'attachment; filename="nanum-{booking_id}.ics"'},
        )


ROUTES: list[ControllerRouterHandler] = [
    RoomFeedController,
    InstitutionFeedController,
    PrivateFeedController,
    MyCalendarController,
    BookingEventController,
]
