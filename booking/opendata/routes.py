"""HTTP handlers of the open data (``/open/v1``): public, cached, licensed, no personal data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.types import ControllerRouterHandler

from booking.errors import invalid
from booking.http import pool_of, problems
from booking.opendata import service
from booking.opendata.service import LICENSE_URL, CachedAnswer
from schemas.opendata import DistrictAvailability, OpenRoom, UsageMonth

__all__ = ("ROUTES", "OpenDataController")

_MAX_AGE = 300
_CACHE_DESCRIPTION = (
    "Public and cacheable: `Cache-Control: public, max-age=300`, a strong `ETag` "
    '(`If-None-Match` → 304), and the licence as `Link: <…>; rel="license"` (공공누리 제1유형, '
    "attribution). No personal data: no names, e-mails, purposes or booking ids."
)
_NOT_MODIFIED = ResponseSpec(
    data_container=None, description="Not modified: the ETag matched", generate_examples=False
)
_encoder = msgspec.json.Encoder()


def _answer(request: Request[Any, Any, Any], answer: CachedAnswer) -> Response[bytes]:
    headers = {
        "ETag": answer.etag,
        "Cache-Control": f"public, max-age={_MAX_AGE}",
        "Link": f'<{LICENSE_URL}>; rel="license"',
        "Access-Control-Allow-Origin": "*",
    }
    wanted = request.headers.get("if-none-match", "")
    if answer.etag in [tag.strip() for tag in wanted.split(",")] or wanted.strip() == "*":
        return Response(content=b"", status_code=304, headers=headers)
    return Response(
        content=answer.body, status_code=200, headers=headers, media_type=answer.media_type
    )


def _json(value: object) -> CachedAnswer:
    return CachedAnswer(_encoder.encode(value), "application/json")


class OpenDataController(Controller):
    """Open data for other public systems and anyone else (tagged ``open-data``)."""

    path = "/open/v1"
    tags = ["open-data"]

    @get(
        "/rooms",
        operation_id="openRooms",
        summary="Every active room in the national standard's columns (JSON or CSV)",
        description=(
            "The rooms as rows of 전국공공시설개방정보표준데이터, its 29 columns in its order "
            "(see `OpenRoom`), so a publisher can import its own rows back. `format=csv` (or "
            "`Accept: text/csv`) answers CSV in UTF-8 with a header line. Seoul's rooms first. "
            + _CACHE_DESCRIPTION
        ),
        responses={
            200: ResponseSpec(
                data_container=list[OpenRoom],
                description="JSON, or CSV (text/csv; charset=utf-8) with the same columns",
                generate_examples=False,
            ),
            304: _NOT_MODIFIED,
            **problems(422),
        },
    )
    async def rooms(
        self,
        request: Request[Any, Any, Any],
        region: Annotated[
            str | None, QueryParameter(description="시도, e.g. 서울특별시 (short names too)")
        ] = None,
        district: Annotated[
            str | None, QueryParameter(description="시군구 of the region, e.g. 마포구")
        ] = None,
        format_: Annotated[
            str | None,
            QueryParameter(
                name="format", description="json (default) or csv", examples=[Example(value="csv")]
            ),
        ] = None,
    ) -> Response[bytes]:
        if format_ not in (None, "json", "csv"):
            raise invalid("format", "one of json, csv")
        csv_wanted = format_ == "csv" or (
            format_ is None and "text/csv" in request.headers.get("accept", "")
        )
        rooms = await service.open_rooms(pool_of(request), region, district)
        if csv_wanted:
            return _answer(
                request, CachedAnswer(service.rooms_csv(rooms), "text/csv; charset=utf-8")
            )
        return _answer(request, _json(rooms))

    @get(
        "/usage",
        operation_id="openUsage",
        summary="Monthly use of every room: open and booked hours, utilisation, cancellations",
        description=(
            "Figures per room of one month (in each institution's local time), computed by the "
            "usage job (every hour: the previous and the current month) into "
            '`room_usage_monthly`. A month that is not over is answered as "so far": '
            "`complete: false` with `as_of`. 404 for a month not computed. " + _CACHE_DESCRIPTION
        ),
        responses={
            200: ResponseSpec(
                data_container=UsageMonth,
                description="The month's figures",
                examples=[
                    Example(
                        summary="October 2026",
                        value={
                            "month": "2026-10",
                            "complete": True,
                            "as_of": "2026-11-01T01:05:00+09:00",
                            "rooms": [
                                {
                                    "room_id": "7d3e0d8e-59b5-4c3c-9a53-2c1f0f0e6b1a",
                                    "room_name": "3층 다목적회의실",
                                    "institution_name": "망원1동 주민센터",
                                    "region": "서울특별시",
                                    "district": "마포구",
                                    "open_hours": 248.0,
                                    "booked_hours": 93.5,
                                    "utilisation": 0.377,
                                    "bookings": 41,
                                    "cancellations": 6,
                                    "no_shows": 2,
                                    "applications_per_slot": None,
                                }
                            ],
                        },
                    )
                ],
            ),
            304: _NOT_MODIFIED,
            **problems(404, 422),
        },
    )
    async def usage(
        self,
        request: Request[Any, Any, Any],
        month: Annotated[
            str, QueryParameter(description="YYYY-MM", examples=[Example(value="2026-10")])
        ],
    ) -> Response[bytes]:
        first_day = service.parse_month(month, datetime.now(UTC))
        return _answer(request, _json(await service.usage_month(pool_of(request), first_day)))

    @get(
        "/availability",
        operation_id="openAvailability",
        summary="Free slots of every room of a district on a day",
        description=(
            "For other city services to show: each active room of the district with its free, "
            "bookable ranges of the local day (after the lead time, within the horizon), in the "
            "institution's offset. " + _CACHE_DESCRIPTION
        ),
        responses={
            200: ResponseSpec(
                data_container=DistrictAvailability,
                description="The district's rooms and free ranges",
                examples=[
                    Example(
                        summary="마포구, one room",
                        value={
                            "date": "2026-12-05",
                            "region": "서울특별시",
                            "district": "마포구",
                            "rooms": [
                                {
                                    "room_id": "7d3e0d8e-59b5-4c3c-9a53-2c1f0f0e6b1a",
                                    "room_name": "3층 다목적회의실",
                                    "institution_name": "망원1동 주민센터",
                                    "kind": "multipurpose_room",
                                    "capacity": 20,
                                    "free": [
                                        {
                                            "start": "2026-12-05T09:00:00+09:00",
                                            "end": "2026-12-05T13:00:00+09:00",
                                        }
                                    ],
                                }
                            ],
                        },
                    )
                ],
            ),
            304: _NOT_MODIFIED,
            **problems(422),
        },
    )
    async def availability(
        self,
        request: Request[Any, Any, Any],
        date_: Annotated[
            str,
            QueryParameter(
                name="date", description="YYYY-MM-DD", examples=[Example(value="2026-12-05")]
            ),
        ],
        district: Annotated[str, QueryParameter(description="시군구, e.g. 마포구")],
        region: Annotated[
            str | None, QueryParameter(description="시도 (default 서울특별시)")
        ] = None,
    ) -> Response[bytes]:
        try:
            day = date.fromisoformat(date_)
        except ValueError:
            raise invalid("date", "expected YYYY-MM-DD") from None
        if len(date_) != 10:
            raise invalid("date", "expected YYYY-MM-DD")
        answer = await service.district_availability(pool_of(request), day, region, district)
        return _answer(request, _json(answer))


ROUTES: list[ControllerRouterHandler] = [OpenDataController]
