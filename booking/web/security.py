"""Security headers of the pages, the language of each request, and safe redirect targets."""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.datastructures import MutableScopeHeaders, UploadFile
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from booking.http import PAGE_CONTENT_SECURITY_POLICY as CONTENT_SECURITY_POLICY
from booking.http import PAGE_SECURITY_HEADERS as _HEADERS
from booking.web import i18n

__all__ = ("CONTENT_SECURITY_POLICY", "PageMiddleware", "safe_next")


class PageMiddleware:
    """Chooses the page language (cookie, then Accept-Language) for the rest of the request and
    adds the security headers, and ``Cache-Control: no-store`` unless the handler set one, to
    every page response. Files of a multipart form are closed when the request ends, also when
    it ended before a handler ran (a refused CSRF token: the CSRF check reads the form)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        cookie = None
        accept = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    name, _, val = part.strip().partition("=")
                    if name == i18n.LANG_COOKIE:
                        cookie = val
            elif key == b"accept-language":
                accept = value.decode("latin-1")
        language = i18n.use_language(i18n.negotiate(cookie, accept))
        scope.setdefault("state", {})["lang"] = language.code

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in _HEADERS:
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                headers.add("vary", "Cookie, Accept-Language")
                headers["content-language"] = language.code
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            await _close_uploaded_files(scope)


async def _close_uploaded_files(scope: Scope) -> None:
    form = ScopeState.from_scope(scope).form
    if not isinstance(form, dict):
        return
    for value in form.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, UploadFile):
                await item.close()


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go back to after signing in; anything else (another host, a scheme,
    ``//evil``, backslashes, control characters) becomes ``default``."""
    if not target or len(target) > 2000:
        return default
    if any(ord(c) < 0x20 or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
