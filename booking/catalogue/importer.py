"""Import the national standard dataset of open public facilities (전국공공시설개방정보표준데이터).

The CSV is CP949 and messy (see data/public-facilities/README.md). Each row becomes a room of an
institution (the building, 개방장소명) with weekly windows from the weekday/weekend hours minus
the closed days. Rows are keyed (``source_key``) so a second run changes nothing; one bad row is
skipped with a reason and never aborts the import.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import get_origin

import msgspec

from booking.catalogue import queries
from booking.catalogue.queries import InstitutionValues, RoomValues, RuleValues
from booking.catalogue.regions import official_region, place_address
from booking.catalogue.windows import merge_windows
from booking.db import Conn
from booking.spreadsheet import spreadsheet_safe

__all__ = (
    "ACCESSIBILITY_WORDS",
    "AMENITY_WORDS",
    "DATABASE_REFUSAL",
    "NO_INSTITUTION_NAME",
    "NO_ROOM_NAME",
    "REPEATED_ROW",
    "UNPLACEABLE",
    "ImportPlan",
    "ImportReport",
    "ParsedRow",
    "RowSkipped",
    "SkippedRow",
    "decode_csv",
    "import_file",
    "import_rows",
    "parse_accessibility",
    "parse_closed_days",
    "parse_row",
    "plan_import",
    "write_planned",
    "written_institutions",
)

SEOUL = "서울특별시"
_WEEKDAY_CHARS = {"월": 1, "화": 2, "수": 3, "목": 4, "금": 5, "토": 6, "일": 7}
_HOLIDAY_WORDS = {
    "공휴일",
    "법정공휴일",
    "법정",
    "국경일",
    "연휴",
    "명절",
    "명절연휴",
    "설",
    "설날",
    "설연휴",
    "추석",
    "추석연휴",
    "신정",
    "구정",
    "당일",
    "1월",
    "1일",
    "1월1일",
    "및",
}
_NEVER_CLOSED = {"", "-", "없음", "연중무휴", "무휴"}
AMENITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("projector", ("빔", "프로젝")),
    ("screen", ("스크린", "tv", "티비", "모니터", "전자칠판")),
    ("microphone", ("마이크", "mic")),
    ("sound_system", ("음향", "스피커", "앰프", "오디오")),
    ("whiteboard", ("화이트", "칠판", "백보드")),
    ("desks", ("책상", "테이블", "탁자")),
    ("chairs", ("의자",)),
    ("wifi", ("와이파이", "wifi", "wi-fi")),
    ("air_conditioning", ("냉난방", "에어컨", "냉방")),
    ("piano", ("피아노",)),
    ("kitchen", ("주방", "싱크")),
    ("mirror", ("거울",)),
    ("parking", ("주차",)),
)
"""Amenity → words of the equipment text (부대시설정보) that mean it; the first word is also
what the open-data export writes."""
# Matched against the equipment text with spaces removed. "리프트" alone is not a lift for
# people (오케스트라리프트, 수중리프트), nor is "시청각실" a hearing loop.
ACCESSIBILITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("step_free", ("무장애", "경사로", "휠체어접근", "문턱없")),
    ("lift", ("엘리베이터", "엘레베이터", "승강기", "장애인리프트", "휠체어리프트")),
    ("accessible_toilet", ("장애인화장실", "장애인용화장실", "장애인전용화장실")),
    ("accessible_parking", ("장애인주차", "장애인전용주차", "장애인용주차")),
    ("hearing_loop", ("히어링루프", "청각보조", "보청", "자기유도")),
    ("braille", ("점자",)),
)
"""Accessibility feature → words of the equipment text that mean it (first word: the export's)."""
_SPORTS_FIELD_WORDS = ("축구", "야구", "경기장", "운동장", "골프", "육상", "씨름")
_COURT_WORDS = (
    "테니스",
    "농구",
    "배구",
    "코트",
    "족구",
    "풋살",
    "배드민턴",
    "배드맨턴",
    "게이트볼",
    "탁구",
)
NO_ROOM_NAME = "no room name"
NO_INSTITUTION_NAME = "no institution name"
UNPLACEABLE = "address names no known region and district"
REPEATED_ROW = "repeats an earlier row (hours merged into it)"
DATABASE_REFUSAL = "rejected by the database"
"""The reasons a row does not become a room of its own (the last one is followed by the error's
class name, e.g. ``rejected by the database (StringDataRightTruncationError)``)."""
_PHOTO = re.compile(r"^https?://\S+\.(jpe?g|png|gif|webp)(\?\S*)?$", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class RowSkipped(Exception):
    """This row cannot become a room; the message is the reason counted in the report."""


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """One row of the file that did not become a room of its own, and the one reason why."""

    line: int
    """Line of the CSV (the header is line 1)."""
    room: str
    place: str
    provider: str
    reason: str


@dataclass(slots=True)
class ParsedRow:
    institution_key: str
    institution: InstitutionValues
    room_key: str
    room: RoomValues
    rules: list[RuleValues]
    closed_days_understood: bool


@dataclass(slots=True)
class ImportReport:
    institutions_created: int = 0
    institutions_updated: int = 0
    institutions_unchanged: int = 0
    rooms_created: int = 0
    rooms_updated: int = 0
    rooms_unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    closed_days_kept_as_note: int = 0
    without_capacity: int = 0
    without_coordinates: int = 0
    skipped_rows: list[SkippedRow] = field(default_factory=list)

    def skip(self, line: int, row: dict[str, str], reason: str) -> None:
        self.skipped[reason] += 1
        self.skipped_rows.append(
            SkippedRow(
                line=line,
                room=row.get("개방시설명", ""),
                place=row.get("개방장소명", ""),
                provider=row.get("제공기관명", ""),
                reason=reason,
            )
        )

    def to_json(self) -> bytes:
        """The whole report (counts and skipped rows) as JSON, for :meth:`from_json`."""
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> ImportReport:
        return msgspec.json.decode(data, type=cls, dec_hook=_counter)

    def csv_text(self) -> str:
        """The skipped rows as CSV (UTF-8 text), one reason each, for the data's publisher; a
        cell that a spreadsheet would run as a formula starts with an apostrophe."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["line", "개방시설명", "개방장소명", "제공기관명", "reason"])
        for skipped in sorted(self.skipped_rows, key=lambda r: r.line):
            cells = (skipped.room, skipped.place, skipped.provider)
            writer.writerow([skipped.line, *map(spreadsheet_safe, cells), skipped.reason])
        return out.getvalue()

    def lines(self) -> list[str]:
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{reason}: {n}" for reason, n in self.skipped.most_common())
        return [
            f"institutions: {self.institutions_created} created, {self.institutions_updated} updated,"
            f" {self.institutions_unchanged} unchanged",
            f"rooms: {self.rooms_created} created, {self.rooms_updated} updated,"
            f" {self.rooms_unchanged} unchanged",
            f"skipped: {skipped}" + (f" ({reasons})" if reasons else ""),
            f"closed days not understood, kept as a note: {self.closed_days_kept_as_note}",
            f"imported without a published capacity: {self.without_capacity};"
            f" without coordinates (found by district): {self.without_coordinates}",
        ]


def _counter(kind: type, value: object) -> object:
    """msgspec decodes ``skipped`` (a Counter) from its JSON object."""
    if kind is Counter or get_origin(kind) is Counter:
        return Counter(msgspec.convert(value, dict[str, int]))
    raise NotImplementedError(kind)


# --- parsing ------------------------------------------------------------------------------------


def decode_csv(raw: bytes) -> list[dict[str, str]]:
    """Rows of the CSV as dicts; CP949 as published, UTF-8 accepted too."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp949", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    # Cells beyond the header's columns (csv's key None, a list) belong to no column.
    return [
        {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        for row in reader
    ]


def parse_closed_days(text: str) -> tuple[set[int], bool, bool, bool]:
    """(closed ISO weekdays, closed on holidays, closed for now, understood) of free text."""
    text = text.strip()
    if text in _NEVER_CLOSED:
        return set(), False, False, True
    if "휴관중" in text or text in ("휴관", "임시휴관"):
        return set(), False, True, True
    # Remarks like "(시설 사정에 따라 변경가능)" don't change the days; "(12:00 이후)" does.
    cleaned = re.sub(r"\([^)0-9]*\)", " ", text)
    days: set[int] = set()
    holidays = False
    for token in re.split(r"[+,./·ㆍ、/\s]+", cleaned):
        word = token.strip()
        for prefix in ("매주",):
            word = word.removeprefix(prefix)
        word = word.removesuffix("휴관").removesuffix("요일").removesuffix("일요일")
        if not word:
            continue
        if word in _WEEKDAY_CHARS:
            days.add(_WEEKDAY_CHARS[word])
        elif word == "주말":
            days.update((6, 7))
        elif word in _HOLIDAY_WORDS or word.endswith("공휴일") or word.endswith("연휴"):
            holidays = True
        else:
            return set(), False, False, False
    if len(days) == 7:
        # "closed every day" next to opening hours is a data-entry error, not a rule.
        return set(), False, False, False
    return days, holidays, False, True


def _clock(text: str) -> int | None:
    match = _CLOCK.match(text.strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


def _hours_rule(start_text: str, end_text: str, days: list[int]) -> RuleValues | None:
    start, end = _clock(start_text), _clock(end_text)
    if start is None or end is None or not days or start == end or start == 1440:
        return None  # 00:00-00:00 (or equal times) means closed
    end_clock = "24:00" if end in (0, 1440) else f"{end // 60:02d}:{end % 60:02d}"
    return RuleValues(days=tuple(days), start=f"{start // 60:02d}:{start % 60:02d}", end=end_clock)


def _number(text: str) -> Decimal | None:
    cleaned = text.replace(",", "").strip()
    match = re.match(r"^\d+(\.\d+)?", cleaned)
    if not match:
        return None
    try:
        return Decimal(match.group(0))
    except InvalidOperation:
        return None


def _region_district(row: dict[str, str]) -> tuple[str, str]:
    for source in (
        row.get("소재지도로명주소", ""),
        row.get("소재지지번주소", ""),
        row.get("제공기관명", ""),
    ):
        place = place_address(source)
        if place is not None:
            return place.region, place.district
    raise RowSkipped(UNPLACEABLE)


def _institution_kind(name: str) -> str:
    if "시청" in name:
        return "city_hall"
    if re.search(r"[구군]청($|\s|\()", name):
        return "gu_office"
    if any(w in name for w in ("주민센터", "행정복지센터", "자치회관", "주민자치")):
        return "community_center"
    if "도서관" in name:
        return "library"
    return "other"


def _room_kind(text: str) -> str:
    if any(w in text for w in _COURT_WORDS) and not any(w in text for w in ("체육관", "실")):
        return "court"
    if any(w in text for w in _SPORTS_FIELD_WORDS):
        return "sports_field"
    if "다목적" in text:
        return "multipurpose_room"
    if "강의" in text or "교실" in text or "프로그램" in text:
        return "lecture_room"
    if "강당" in text:
        return "hall"
    if "회의" in text:
        return "meeting_room"
    if "체육관" in text:
        return "gym"
    return "other"


def _kind_of(published_kind: str, room_name: str) -> str:
    """The published kind; where it says nothing (기타, empty) the room's name may."""
    kind = _room_kind(published_kind)
    return kind if kind != "other" else _room_kind(room_name)


def _amenities(text: str) -> list[str]:
    lowered = text.lower()
    return [name for name, words in AMENITY_WORDS if any(w in lowered for w in words)]


def parse_accessibility(text: str) -> list[str]:
    """Accessibility features the equipment text (부대시설정보) mentions."""
    squeezed = "".join(text.split())
    return [name for name, words in ACCESSIBILITY_WORDS if any(w in squeezed for w in words)]


def _floor(name: str) -> str | None:
    basement = re.search(r"지하\s*(\d+)\s*층", name)
    if basement:
        return f"B{basement.group(1)}"
    match = re.search(r"(\d+)\s*층", name)
    return match.group(1) if match else None


def _coordinate(text: str, limit: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value != 0 and -limit <= value <= limit else None


def _fee(
    row: dict[str, str], notes: list[str]
) -> tuple[int | None, Decimal | None, Decimal | None, int | None]:
    paid = row.get("유료사용여부", "").upper()
    fee_text = row.get("사용료", "")
    amount = _number(fee_text)
    if paid == "N" or fee_text == "무료" or (amount is not None and amount == 0):
        return 0, None, None, None
    if amount is None:
        if fee_text:
            notes.append(f"사용료: {fee_text}")
        return None, None, None, None
    if fee_text.replace(",", "") != str(amount):
        notes.append(f"사용료: {fee_text}")
    base = _hours(row, "사용기준시간", notes)
    unit = _hours(row, "초과사용단위시간", notes)
    overtime = _number(row.get("초과사용료", ""))
    if unit is None or overtime is None:
        unit = overtime = None
    return int(amount), base, unit, None if overtime is None else int(overtime)


def _hours(row: dict[str, str], column: str, notes: list[str]) -> Decimal | None:
    """A block length in hours, (0, 24]; anything else (240, 1511, ".") is kept as a note."""
    text = row.get(column, "")
    value = _number(text)
    if value is None or value == 0:
        return None
    if value > 24:
        notes.append(f"{column}: {text}")
        return None
    return value


def parse_row(row: dict[str, str]) -> ParsedRow:
    """One CSV row as an institution, a room and its weekly windows, or RowSkipped(reason)."""
    room_name = row.get("개방시설명", "")
    if not room_name:
        raise RowSkipped(NO_ROOM_NAME)
    place = row.get("개방장소명") or row.get("관리기관명") or ""
    if not place:
        raise RowSkipped(NO_INSTITUTION_NAME)
    region, district = _region_district(row)
    capacity = _number(row.get("수용가능인원수", ""))
    if capacity is not None and capacity < 1:
        capacity = None  # "0" publishes nothing either
    latitude = _coordinate(row.get("위도", ""), 90)
    longitude = _coordinate(row.get("경도", ""), 180)
    if latitude is None or longitude is None:
        latitude = longitude = None
    homepage = row.get("홈페이지주소", "")
    if homepage and not homepage.startswith(("http://", "https://")):
        homepage = f"http://{homepage}"
    institution_key = f"{region}|{district}|{place}"
    institution = InstitutionValues(
        name=place,
        kind=_institution_kind(place),
        region=region,
        district=district,
        address=row.get("소재지도로명주소") or row.get("소재지지번주소") or None,
        latitude=latitude,
        longitude=longitude,
        phone=row.get("사용안내전화번호") or None,
        homepage=(homepage or None) if len(homepage) <= 2000 and " " not in homepage else None,
        timezone="Asia/Seoul",
        closed_on_holidays=False,
        source_key=institution_key,
    )
    notes: list[str] = []
    closed_text = row.get("휴관일", "")
    closed, holidays, closed_for_now, understood = parse_closed_days(closed_text)
    if not understood:
        notes.append(f"휴관일: {closed_text}")
    weekdays = [d for d in (1, 2, 3, 4, 5) if d not in closed]
    weekend = [d for d in (6, 7) if d not in closed]
    rules = [
        rule
        for rule in (
            _hours_rule(row.get("평일운영시작시각", ""), row.get("평일운영종료시각", ""), weekdays),
            _hours_rule(row.get("주말운영시작시각", ""), row.get("주말운영종료시각", ""), weekend),
        )
        if rule is not None
    ]
    fee_krw, base, unit, overtime = _fee(row, notes)
    area = _number(row.get("면적", ""))
    photo = row.get("시설사진정보", "")
    room = RoomValues(
        name=room_name[:200],
        name_en=None,
        kind=_kind_of(row.get("개방시설유형구분", ""), room_name),
        capacity=None if capacity is None else min(int(capacity), 100_000),
        area_m2=area if area and area > 0 and area < Decimal("100000000") else None,
        floor=_floor(room_name),
        amenities=_amenities(row.get("부대시설정보", "")),
        accessibility=parse_accessibility(row.get("부대시설정보", "")),
        photos=[photo] if _PHOTO.match(photo) else [],
        fee_krw=fee_krw,
        fee_base_hours=base,
        overtime_unit_hours=unit,
        overtime_fee_krw=overtime,
        slot_minutes=30,
        min_minutes=60,
        max_minutes=240,
        lead_minutes=60,
        horizon_days=60,
        requires_approval=False,
        max_active_per_citizen=4,
        closed_on_holidays=holidays,
        active=not closed_for_now,
        note="; ".join(notes) or None,
        source_key=f"{institution_key}|{room_name}",
    )
    return ParsedRow(
        institution_key=institution_key,
        institution=institution,
        room_key=room.source_key or "",
        room=room,
        rules=merge_windows(rules),
        closed_days_understood=understood,
    )


# --- writing ------------------------------------------------------------------------------------

_INSTITUTION_UPSERT = """
    INSERT INTO institutions AS t (name, kind, region, district, address, latitude, longitude,
                                   phone, homepage, timezone, source_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (source_key) WHERE source_key IS NOT NULL DO UPDATE
    SET name = EXCLUDED.name, kind = EXCLUDED.kind, region = EXCLUDED.region,
        district = EXCLUDED.district, address = EXCLUDED.address, latitude = EXCLUDED.latitude,
        longitude = EXCLUDED.longitude, phone = EXCLUDED.phone, homepage = EXCLUDED.homepage,
        updated_at = now()
    WHERE (t.name, t.kind, t.region, t.district, t.address, t.latitude, t.longitude, t.phone,
           t.homepage)
          IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.region, EXCLUDED.district, EXCLUDED.address,
           EXCLUDED.latitude, EXCLUDED.longitude, EXCLUDED.phone, EXCLUDED.homepage)
    RETURNING id, (xmax = 0) AS created
"""

# Policy, accessibility and `active` belong to the managers once a room exists: only the
# published facts are refreshed.
_ROOM_UPSERT = """
    INSERT INTO rooms AS t (institution_id, name, kind, capacity, area_m2, floor, amenities,
                            photos, fee_krw, fee_base_hours, overtime_unit_hours,
                            overtime_fee_krw, closed_on_holidays, active, note, source_key,
                            accessibility)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
    ON CONFLICT (source_key) WHERE source_key IS NOT NULL DO UPDATE
    SET institution_id = EXCLUDED.institution_id, name = EXCLUDED.name, kind = EXCLUDED.kind,
        capacity = EXCLUDED.capacity, area_m2 = EXCLUDED.area_m2, floor = EXCLUDED.floor,
        amenities = EXCLUDED.amenities, photos = EXCLUDED.photos, fee_krw = EXCLUDED.fee_krw,
        fee_base_hours = EXCLUDED.fee_base_hours,
        overtime_unit_hours = EXCLUDED.overtime_unit_hours,
        overtime_fee_krw = EXCLUDED.overtime_fee_krw,
        closed_on_holidays = EXCLUDED.closed_on_holidays, note = EXCLUDED.note,
        updated_at = now()
    WHERE (t.institution_id, t.name, t.kind, t.capacity, t.area_m2, t.floor, t.amenities,
           t.photos, t.fee_krw, t.fee_base_hours, t.overtime_unit_hours, t.overtime_fee_krw,
           t.closed_on_holidays, t.note)
          IS DISTINCT FROM
          (EXCLUDED.institution_id, EXCLUDED.name, EXCLUDED.kind, EXCLUDED.capacity,
           EXCLUDED.area_m2, EXCLUDED.floor, EXCLUDED.amenities, EXCLUDED.photos,
           EXCLUDED.fee_krw, EXCLUDED.fee_base_hours, EXCLUDED.overtime_unit_hours,
           EXCLUDED.overtime_fee_krw, EXCLUDED.closed_on_holidays, EXCLUDED.note)
    RETURNING id, (xmax = 0) AS created
"""


async def _upsert_institution(conn: Conn, values: InstitutionValues) -> tuple[uuid.UUID, str]:
    row = await conn.fetchrow(
        _INSTITUTION_UPSERT,
        values.name,
        values.kind,
        values.region,
        values.district,
        values.address,
        values.latitude,
        values.longitude,
        values.phone,
        values.homepage,
        values.timezone,
        values.source_key,
    )
    if row is None:
        ident: uuid.UUID = await conn.fetchval(
            "SELECT id FROM institutions WHERE source_key = $1", values.source_key
        )
        return ident, "unchanged"
    ident, created = row
    return ident, "created" if created else "updated"


async def _upsert_room(conn: Conn, institution_id: uuid.UUID, parsed: ParsedRow) -> str:
    room = parsed.room
    row = await conn.fetchrow(
        _ROOM_UPSERT,
        institution_id,
        room.name,
        room.kind,
        room.capacity,
        room.area_m2,
        room.floor,
        room.amenities,
        room.photos,
        room.fee_krw,
        room.fee_base_hours,
        room.overtime_unit_hours,
        room.overtime_fee_krw,
        room.closed_on_holidays,
        room.active,
        room.note,
        room.source_key,
        room.accessibility,
    )
    if row is None:
        room_id = await conn.fetchval("SELECT id FROM rooms WHERE source_key = $1", room.source_key)
        outcome = "unchanged"
    else:
        room_id, created = row
        outcome = "created" if created else "updated"
    # Weekly windows change only when the published hours do.
    if set(await queries.fetch_rules(conn, room_id)) != set(parsed.rules):
        await queries.replace_rules(conn, room_id, parsed.rules)
        if outcome == "unchanged":
            outcome = "updated"
    return outcome


@dataclass(slots=True)
class ImportPlan:
    """What an import writes, worked out before the first write: the rows that become rooms
    (in file order, a repeated facility's hours merged into its first row) and the report of the
    rows that do not. Planning reads no database, so the same file plans the same way twice."""

    rows: list[ParsedRow]
    report: ImportReport
    first_institution: dict[str, InstitutionValues]
    """One row's contact details stand for the institution, so reruns do not flip-flop."""
    lines: dict[str, tuple[int, dict[str, str]]]
    """Room key -> (line, raw row), for the report of a row the database refuses."""
    rows_read: int
    """Rows of the file (``rows`` are those that become rooms)."""


def plan_import(rows: list[dict[str, str]], *, region: str | None = None) -> ImportPlan:
    """Parse every row; with ``region`` (any spelling :func:`official_region` knows) only that
    region's rows count."""
    wanted = None if region is None else (official_region(region) or region)
    plan = ImportPlan(
        rows=[], report=ImportReport(), first_institution={}, lines={}, rows_read=len(rows)
    )
    seen_rooms: dict[str, ParsedRow] = {}
    for line, row in enumerate(rows, start=2):
        try:
            parsed = parse_row(row)
        except RowSkipped as exc:
            if wanted is None or _mentions(row, wanted):
                plan.report.skip(line, row, str(exc))
            continue
        if wanted is not None and parsed.institution.region != wanted:
            continue
        earlier = seen_rooms.get(parsed.room_key)
        if earlier is not None:
            # The same facility listed again (e.g. day and evening tariffs): one room, all hours.
            earlier.rules = merge_windows(earlier.rules + parsed.rules)
            plan.report.skip(line, row, REPEATED_ROW)
            continue
        seen_rooms[parsed.room_key] = parsed
        plan.lines[parsed.room_key] = (line, row)
        plan.first_institution.setdefault(parsed.institution_key, parsed.institution)
        plan.rows.append(parsed)
    return plan


async def write_planned(
    conn: Conn,
    plan: ImportPlan,
    report: ImportReport,
    start: int,
    stop: int,
    institution_ids: dict[str, uuid.UUID],
) -> None:
    """Create or update the institutions, rooms and windows of ``plan.rows[start:stop]``, each
    row in its own transaction (a savepoint inside the caller's), counting into ``report``.
    ``institution_ids`` holds the institutions already written by this import (see
    :func:`written_institutions`); they are not counted again."""
    for parsed in plan.rows[start:stop]:
        key = parsed.institution_key
        institution_outcome: str | None = None
        try:
            async with conn.transaction():
                ident = institution_ids.get(key)
                if ident is None:
                    ident, institution_outcome = await _upsert_institution(
                        conn, plan.first_institution[key]
                    )
                outcome = await _upsert_room(conn, ident, parsed)
        except Exception as exc:  # noqa: BLE001 - one bad row never aborts the import
            line, row = plan.lines[parsed.room_key]
            report.skip(line, row, f"{DATABASE_REFUSAL} ({type(exc).__name__})")
            continue
        institution_ids[key] = ident
        if institution_outcome is not None:
            name = f"institutions_{institution_outcome}"
            setattr(report, name, getattr(report, name) + 1)
        setattr(report, f"rooms_{outcome}", getattr(report, f"rooms_{outcome}") + 1)
        if not parsed.closed_days_understood:
            report.closed_days_kept_as_note += 1
        if parsed.room.capacity is None:
            report.without_capacity += 1
        if plan.first_institution[key].latitude is None:
            report.without_coordinates += 1


async def written_institutions(
    conn: Conn, plan: ImportPlan, report: ImportReport, before: int
) -> dict[str, uuid.UUID]:
    """Institution key -> id of the institutions that ``plan.rows[:before]`` wrote (rows the
    database refused wrote nothing), so an import resumed at ``before`` counts each institution
    once, as an uninterrupted one does."""
    refused = {r.line for r in report.skipped_rows if r.reason.startswith(DATABASE_REFUSAL)}
    keys = sorted(
        {
            parsed.institution_key
            for parsed in plan.rows[:before]
            if plan.lines[parsed.room_key][0] not in refused
        }
    )
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT source_key, id FROM institutions WHERE source_key = ANY($1::text[])", keys
    )
    return {key: ident for key, ident in rows}


async def import_rows(
    conn: Conn, rows: list[dict[str, str]], *, region: str | None = None
) -> ImportReport:
    """Create or update institutions, rooms and windows; each row commits on its own. With
    ``region`` (any spelling :func:`official_region` knows) only that region's rows count."""
    plan = plan_import(rows, region=region)
    await write_planned(conn, plan, plan.report, 0, len(plan.rows), {})
    return plan.report


def _mentions(row: dict[str, str], region: str) -> bool:
    """Whether a row that cannot be placed still seems to belong to ``region`` (its address or
    provider starts with any spelling of it), so a regional import reports it."""
    for source in (
        row.get("소재지도로명주소", ""),
        row.get("소재지지번주소", ""),
        row.get("제공기관명", ""),
    ):
        named = official_region(source.split(" ")[0]) if source.strip() else None
        if named == region or region in source:
            return True
    return False


async def import_file(conn: Conn, path: Path, *, region: str | None = None) -> ImportReport:
    raw = await asyncio.to_thread(path.read_bytes)
    return await import_rows(conn, decode_csv(raw), region=region)
