"""Jinja2 for the pages (through Litestar's template support): autoescape on, gettext from the
request's language, formatters, and fingerprinted asset URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from booking.web import i18n
from booking.web.assets import AssetStore

__all__ = ("N_", "template_config")

TEMPLATES = Path(__file__).resolve().parent / "templates"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


def _current_language() -> str:
    return i18n.current.get().code


def template_config(assets: AssetStore) -> TemplateConfig[JinjaTemplateEngine]:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
    )
    globals_: dict[str, Any] = {
        "static": assets.url,
        "lang": _current_language,
        "format_range": i18n.format_range,
        "format_day": i18n.format_day,
        "format_time": i18n.format_time,
        "format_number": i18n.format_number,
        "district_name": i18n.district_name,
        "weekday": i18n.weekday_name,
        "format_local_day": i18n.format_local_day,
    }
    env.globals.update(globals_)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
