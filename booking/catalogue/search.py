"""Room search: filters and keyset pages over the SQL built in ``queries.search_rooms``."""

from __future__ import annotations

import asyncpg

from booking.catalogue import institutions, queries
from booking.catalogue.availability import validate_window
from booking.catalogue.queries import RoomSearch
from booking.catalogue.regions import districts_of
from booking.catalogue.rooms import room_answer
from booking.errors import invalid
from booking.http import choice, cursor_uuid, decode_cursor, encode_cursor, parse_instant
from schemas.catalogue import ACCESSIBILITY, AMENITIES, MAX_CAPACITY, ROOM_KINDS, RoomPage

__all__ = ("parse_point", "parse_search", "search_rooms")


async def search_rooms(pool: asyncpg.Pool, search: RoomSearch, cursor: str | None) -> RoomPage:
    if cursor:
        if search.near is not None:
            distance, ident = decode_cursor(cursor, "d", 2)
            if not isinstance(distance, (int, float)):
                raise invalid("cursor", "not a cursor returned by this endpoint")
            search.after_distance = (float(distance), cursor_uuid(ident))
        else:
            iname, rname, ident = decode_cursor(cursor, "n", 3)
            search.after_name = (str(iname), str(rname), cursor_uuid(ident))
    async with pool.acquire() as conn:
        rows = await queries.search_rooms(conn, search)
    page = rows[: search.limit]
    next_cursor = None
    if len(rows) > search.limit:
        last = page[-1]
        next_cursor = encode_cursor(
            ["d", last.distance_km, str(last.id)]
            if search.near is not None
            else ["n", last.institution_name, last.name, str(last.id)]
        )
    return RoomPage(items=[room_answer(r) for r in page], next_cursor=next_cursor)


def parse_search(
    *,
    region: str | None,
    district: str | None,
    kind: str | None,
    min_capacity: int | None,
    amenity: list[str],
    accessible: list[str],
    free_from: str | None,
    free_to: str | None,
    near: str | None,
    radius_km: float | None,
    q: str | None,
    limit: int,
) -> RoomSearch:
    """Validate a search's query-string values into a RoomSearch, naming the first bad
    parameter (the API's GET /v1/rooms and the pages' find form share it)."""
    amenities = [a.strip() for item in amenity for a in item.split(",") if a.strip()]
    for name in amenities:
        choice(name, "amenity", AMENITIES)
    features = [a.strip() for item in accessible for a in item.split(",") if a.strip()]
    for name in features:
        choice(name, "accessible", ACCESSIBILITY)
    if min_capacity is not None and min_capacity <= 0:
        raise invalid("min_capacity", "must be a positive number of people")
    if min_capacity is not None and min_capacity > MAX_CAPACITY:
        raise invalid("min_capacity", f"no room holds more than {MAX_CAPACITY} people")
    if region is not None and district is not None and districts_of(region) is not None:
        institutions.validate_district(region, district)
    start = parse_instant(free_from, "free_from")
    end = parse_instant(free_to, "free_to")
    if start is not None or end is not None:
        start, end = validate_window(start, end, start_field="free_from", end_field="free_to")
    point: tuple[float, float] | None = None
    if near is not None:
        point = parse_point(near)
    if radius_km is not None:
        if point is None:
            raise invalid("radius_km", "only meaningful with near")
        if not 0 < radius_km <= 100:
            raise invalid("radius_km", "must be more than 0 and at most 100")
    if q is not None:
        q = q.strip()
        if not q or len(q) > 100:
            raise invalid("q", "must be 1 to 100 characters")
    return RoomSearch(
        region=region,
        district=district,
        kind=choice(kind, "kind", ROOM_KINDS),
        min_capacity=min_capacity,
        amenities=sorted(set(amenities)),
        accessibility=sorted(set(features)),
        free_from=start,
        free_to=end,
        near=point,
        radius_km=radius_km,
        q=q,
        limit=limit,
    )


def parse_point(near: str) -> tuple[float, float]:
    parts = near.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise invalid("near", "expected <lat>,<lon> in decimal degrees") from None
    if not -90 <= lat <= 90:
        raise invalid("near", "latitude out of range (-90..90)")
    if not -180 <= lon <= 180:
        raise invalid("near", "longitude out of range (-180..180)")
    return lat, lon
