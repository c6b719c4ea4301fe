"""Jinja2 for the pages (through Litestar's template support): autoescape on, gettext from the
request's language, formatters, and fingerprinted asset URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from booking.web import i18n
from booking.web.assets import AssetStore

__all__ = ("N_", "template_config")

TEMPLATES = Path(__file__).resolve().parent / "templates"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


def _current_language() -> str:
    return i18n.current.get().code


@pass_context
def csrf_field(context: Context) -> Markup:
    """The form's hidden CSRF token input, its value escaped (templates call ``csrf_field()``
    rather than printing Litestar's ready-made ``csrf_input`` string unescaped)."""
    request = context["request"]
    token = value_or_default(ScopeState.from_scope(request.scope).csrf_token, "")
    return Markup('<input type="hidden" name="_csrf_token" value="{}">').format(token)


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
        "csrf_field": csrf_field,
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
