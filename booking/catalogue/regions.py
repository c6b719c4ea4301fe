"""The 17 regions (시도) of Korea and their districts (시군구), from ``data/regions/``.

One home for "which places exist": institutions are validated against it and the importer places
published addresses with it (short names such as ``울산``, old names such as ``강원도``, names run
together such as ``경상남도창원시``). Source and date: ``data/regions/README.md``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from booking.settings import REPO_ROOT

__all__ = (
    "KOREA_TIMEZONE",
    "Place",
    "districts_of",
    "official_region",
    "place_address",
    "region_names",
    "validate_place",
)

KOREA_TIMEZONE = "Asia/Seoul"
_DATA = REPO_ROOT / "data" / "regions"


@dataclass(frozen=True, slots=True)
class Place:
    region: str
    district: str


@dataclass(frozen=True, slots=True)
class _Rename:
    old_region: str
    old_district: str
    region: str
    district: str
    address_contains: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Regions:
    districts: dict[str, tuple[str, ...]]
    """Official region name → its districts, in the file's order."""
    region_names: dict[str, str]
    """Official, short and old region names → the official one."""
    renames: tuple[_Rename, ...]


def _rows(name: str) -> list[dict[str, str]]:
    with (_DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def _regions() -> _Regions:
    districts: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for row in _rows("regions.csv"):
        districts[row["region"]] = []
        names[row["region"]] = row["region"]
        names[row["short_name"]] = row["region"]
    for row in _rows("districts.csv"):
        districts[row["region"]].append(row["district"])
    renames = tuple(
        _Rename(
            old_region=row["old_region"],
            old_district=row["old_district"],
            region=row["region"],
            district=row["district"],
            address_contains=tuple(w for w in row["address_contains"].split("|") if w),
        )
        for row in _rows("renamed.csv")
    )
    for rename in renames:
        if not rename.old_district:
            names.setdefault(rename.old_region, rename.region)
    return _Regions(
        districts={region: tuple(ds) for region, ds in districts.items()},
        region_names=names,
        renames=renames,
    )


def region_names() -> tuple[str, ...]:
    """The 17 official region names."""
    return tuple(_regions().districts)


def official_region(name: str) -> str | None:
    """The official name of a region written in any known way (서울, 강원도, 울산광역시), or None."""
    return _regions().region_names.get(name.strip())


def districts_of(region: str) -> tuple[str, ...] | None:
    """The districts of an official region name, or None for a name that is not one."""
    return _regions().districts.get(region)


def validate_place(region: str, district: str, timezone: str) -> str | None:
    """None if ``(region, district)`` is a place we know, else what is wrong, naming the valid
    values. Institutions outside Korea (any timezone but Asia/Seoul) may name their own."""
    known = districts_of(region)
    if known is None:
        if timezone != KOREA_TIMEZONE:
            return None
        return f"{region!r} is not a region (시도) of Korea; valid: {', '.join(region_names())}"
    if district not in known:
        return f"{district!r} is not a district of {region}; valid: {', '.join(known)}"
    return None


def _renamed(region: str, district: str, address: str) -> Place:
    for rename in _regions().renames:
        if rename.old_region != region:
            continue
        if rename.old_district and rename.old_district != district:
            continue
        if rename.address_contains and not any(w in address for w in rename.address_contains):
            continue
        return Place(rename.region, rename.district or district)
    return Place(region, district)


def _split_region(text: str) -> tuple[str, str] | None:
    """(the region name as written, the rest) when the text starts with a region's name: official,
    short (which must stand alone: "울산 남구") or old (which may run on: "경상남도창원시")."""
    regions = _regions()
    for name in sorted(regions.region_names, key=len, reverse=True):
        if not text.startswith(name):
            continue
        rest = text[len(name) :]
        short = name not in regions.districts and all(r.old_region != name for r in regions.renames)
        if short and rest and not rest[0].isspace():
            continue
        return name, rest.strip()
    return None


def _leading_district(rest: str, candidates: tuple[str, ...]) -> str | None:
    for district in sorted(candidates, key=len, reverse=True):
        if rest.startswith(district):
            return district
    return None


def place_address(address: str) -> Place | None:
    """The region and district of a published address, or None if it cannot be placed.

    Understands ``서울특별시 마포구 …``, ``울산 남구 …``, ``경상남도창원시 …``, ``강원도 …`` and
    ``인천광역시 중구 …`` (old names, mapped to today's by ``renamed.csv``), ``창원시 마산합포구 …``
    (no region: placed when the district's name is unique in Korea) and ``세종특별자치시 …``
    (a region that is its own district)."""
    text = " ".join(address.split())
    if not text:
        return None
    regions = _regions()
    split = _split_region(text)
    if split is None:
        matches = [
            Place(region, district)
            for region, districts in regions.districts.items()
            for district in districts
            if text.startswith(district)
        ]
        return matches[0] if len(matches) == 1 else None
    written, rest = split
    official = regions.region_names[written]
    districts = regions.districts[official]
    if districts == (official,):
        return Place(official, official)
    old_districts = tuple(
        r.old_district
        for r in regions.renames
        if r.old_district and r.old_region in (written, official)
    )
    district = _leading_district(rest, districts + old_districts)
    if district is None:
        return None
    place = _renamed(written, district, text)
    if place.region not in regions.districts:
        place = Place(official, district)
    place = _renamed(place.region, place.district, text)
    return place if place.district in regions.districts[place.region] else None
