"""Languages of the pages: Korean first, English second.

Text goes through gettext catalogues (``booking/web/translations/<lang>/LC_MESSAGES/
messages.po``, English message ids). The catalogues are compiled in memory with Babel when the
module is first imported, so a fresh clone needs no compile step and no ``.mo`` file can go
stale. The language of a request is chosen by the ``lang`` cookie (the visible switch), else by
``Accept-Language``, else Korean; :data:`current` carries it to templates and formatters.
Dates and times are formatted by Babel's CLDR data in the institution's time zone.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

__all__ = (
    "DEFAULT_LANGUAGE",
    "DISTRICT_NAMES_EN",
    "LANGUAGES",
    "Language",
    "current",
    "district_name",
    "format_day",
    "format_range",
    "format_time",
    "gettext",
    "negotiate",
    "ngettext",
    "use_language",
)

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LANG_COOKIE = "lang"

DISTRICT_NAMES_EN: dict[str, str] = {
    "종로구": "Jongno-gu", "중구": "Jung-gu", "용산구": "Yongsan-gu", "성동구": "Seongdong-gu",
    "광진구": "Gwangjin-gu", "동대문구": "Dongdaemun-gu", "중랑구": "Jungnang-gu",
    "성북구": "Seongbuk-gu", "강북구": "Gangbuk-gu", "도봉구": "Dobong-gu", "노원구": "Nowon-gu",
    "은평구": "Eunpyeong-gu", "서대문구": "Seodaemun-gu", "마포구": "Mapo-gu",
    "양천구": "Yangcheon-gu", "강서구": "Gangseo-gu", "구로구": "Guro-gu",
    "금천구": "Geumcheon-gu", "영등포구": "Yeongdeungpo-gu", "동작구": "Dongjak-gu",
    "관악구": "Gwanak-gu", "서초구": "Seocho-gu", "강남구": "Gangnam-gu", "송파구": "Songpa-gu",
    "강동구": "Gangdong-gu",
}  # fmt: skip


def _load(language: str) -> NullTranslations:
    po = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    locale: Locale
    translations: NullTranslations


_LANGUAGES = {code: Language(code, Locale.parse(code), _load(code)) for code in LANGUAGES}
current: contextvars.ContextVar[Language] = contextvars.ContextVar(
    "nanum_language", default=_LANGUAGES[DEFAULT_LANGUAGE]
)


def use_language(code: str) -> Language:
    language = _LANGUAGES.get(code, _LANGUAGES[DEFAULT_LANGUAGE])
    current.set(language)
    return language


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the remembered choice, else the browser's preference, else Korean."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    if ranked:
        return min(ranked)[2]
    return DEFAULT_LANGUAGE


def gettext(message: str) -> str:
    return current.get().translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return current.get().translations.ngettext(singular, plural, n)


def district_name(district: str) -> str:
    """A district in the page language (Korean names stay as they are in Korean pages)."""
    if current.get().code == "ko":
        return district
    return DISTRICT_NAMES_EN.get(district, district)


def format_day(day: date) -> str:
    """``12월 5일 (토)`` / ``Sat 5 Dec``."""
    language = current.get()
    if language.code == "ko":
        return format_date(day, "MMMM d일 (E)", locale=language.locale)
    return format_date(day, "EEE d MMM", locale=language.locale)


def format_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def format_range(start: datetime, end: datetime, timezone: str) -> str:
    """``12월 5일 (토) 19:00–21:00`` / ``Sat 5 Dec, 19:00–21:00`` in the institution's zone."""
    tz = ZoneInfo(timezone)
    local_start = start.astimezone(tz)
    local_end = end.astimezone(tz)
    separator = " " if current.get().code == "ko" else ", "
    end_clock = local_end.strftime("%H:%M")
    if local_end.date() != local_start.date() and not (
        local_end.hour == 0 and local_end.minute == 0
    ):
        end_clock = f"{format_day(local_end.date())} {end_clock}"
    elif local_end.hour == 0 and local_end.minute == 0 and local_end.date() != local_start.date():
        end_clock = "24:00"
    return f"{format_day(local_start.date())}{separator}{local_start:%H:%M}–{end_clock}"


def format_number(value: int | float | Decimal) -> str:
    return format_decimal(value, locale=current.get().locale)


_WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def weekday_name(code: str) -> str:
    """``sat`` as ``토`` / ``Sat``."""
    from babel.dates import get_day_names

    index = _WEEKDAY_INDEX.get(code)
    if index is None:
        return code
    return str(get_day_names("abbreviated", locale=current.get().locale)[index])


def format_local_day(moment: datetime, timezone: str) -> str:
    return format_day(moment.astimezone(ZoneInfo(timezone)).date())
