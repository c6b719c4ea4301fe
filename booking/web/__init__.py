"""The web pages: server-rendered HTML from the same app and the same services as the API.

:class:`WebFront` gathers what ``booking.app`` mounts: the page router (sessions, CSRF,
language, security headers), the static assets, the template configuration and the session
store. Nothing here is reachable under ``/v1``: the API and its bearer tokens are untouched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router, get
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.middleware.compression import CompressionMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from booking.errors import Problem
from booking.settings import Settings
from booking.web.admin import ADMIN_ROUTES
from booking.web.allocation import ROUTES as ALLOCATION_ROUTES
from booking.web.assets import IMMUTABLE, AssetStore, load_store
from booking.web.manager import MANAGER_ROUTES
from booking.web.pages import SignInRequired, error_page
from booking.web.routes import ROUTES
from booking.web.security import PageMiddleware
from booking.web.sessions import SESSION_COOKIE, SESSION_STORE, RotatingSessionConfig
from booking.web.templating import template_config

__all__ = ("CSRF_COOKIE", "WebFront")

CSRF_COOKIE = "nanum_csrf"


def _sign_in_redirect(_: Request[Any, Any, State], exc: SignInRequired) -> Response[Any]:
    return Redirect(f"/sign-in?next={quote(exc.next_path, safe='/')}", status_code=303)


def _problem_page(request: Request[Any, Any, State], exc: Exception) -> Response[Any]:
    if isinstance(exc, Problem):
        status = exc.status if 400 <= exc.status < 500 else 500
    elif isinstance(exc, HTTPException):
        status = exc.status_code
    else:
        status = 500
    if status >= 500:
        raise exc
    return error_page(request, status)


class WebFront:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.assets: AssetStore = load_store()
        production = settings.env == "production"
        self.session_config = RotatingSessionConfig(
            key=SESSION_COOKIE,
            store=SESSION_STORE,
            httponly=True,
            secure=production,
            samesite="lax",
            max_age=14 * 24 * 3600,
            renew_on_access=False,
        )
        self.csrf_config = CSRFConfig(
            secret=settings.secret_key,
            cookie_name=CSRF_COOKIE,
            cookie_secure=production,
            cookie_httponly=True,
            cookie_samesite="lax",
            header_name="x-csrftoken",
        )
        self.template_config: TemplateConfig[Any] = template_config(self.assets)

    @property
    def stores(self) -> dict[str, Any]:
        return {
            SESSION_STORE: RedisStore.with_client(
                url=self.settings.redis_url, namespace="nanum-sessions"
            )
        }

    def route_handlers(self) -> list[Any]:
        pages = Router(
            path="/",
            route_handlers=[*ROUTES, *ALLOCATION_ROUTES, *MANAGER_ROUTES, *ADMIN_ROUTES],
            request_class=HTMXRequest,
            middleware=[
                # Pages are compressed on the fly (gzip, level 6: fast enough for 30 ms pages);
                # static assets are precompressed at build time.
                DefineMiddleware(
                    CompressionMiddleware,
                    config=CompressionConfig(
                        backend="gzip", gzip_compress_level=6, minimum_size=512
                    ),
                ),
                PageMiddleware,
                self.session_config.middleware,
                DefineMiddleware(CSRFMiddleware, config=self.csrf_config),
            ],
            exception_handlers={
                SignInRequired: _sign_in_redirect,
                Problem: _problem_page,
                HTTPException: _problem_page,
            },
            include_in_schema=False,
        )
        return [pages, self._static_handler()]

    def _static_handler(self) -> Any:
        assets = self.assets

        @get("/static/{name:str}", include_in_schema=False, name="web:static", sync_to_thread=False)
        def static(request: Request[Any, Any, State], name: FromPath[str]) -> Response[bytes]:
            asset = assets.get(name)
            if asset is None:
                raise NotFoundException("No such file.")
            body, encoding = asset.body_for(request.headers.get("accept-encoding", ""))
            headers = {
                "Cache-Control": IMMUTABLE,
                "X-Content-Type-Options": "nosniff",
                "Vary": "Accept-Encoding",
            }
            if encoding is not None:
                headers["Content-Encoding"] = encoding
            return Response(body, media_type=asset.content_type, headers=headers)

        return static
