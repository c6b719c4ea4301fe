"""The Litestar application: lifespan-managed pools on ``app.state``, features mounted by name."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from redis.asyncio import Redis

from booking.accounts.auth import optional_principal, require_admin, require_principal
from booking.accounts.ratelimit import wrap_rate_limit
from booking.db import create_pool, ensure_migrated
from booking.errors import exception_handlers
from booking.http import ApiRequest, SecurityHeadersMiddleware, refuse_control_characters
from booking.observability import RequestLogMiddleware, configure_logging
from booking.openapi_links import add_links
from booking.routing import route_handlers
from booking.settings import Settings, load_settings
from booking.web import WebFront

__all__ = ("create_app",)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app. Start-up fails (naming them) if migrations are pending."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    web = WebFront(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        try:
            await ensure_migrated(pool)
            redis = Redis.from_url(
                settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
            )
            app.state.pool = pool
            app.state.redis = redis
            # What start-up built (modules, routes, templates' environment, catalogues) lives
            # as long as the process: keep it out of the collector's full passes, which
            # otherwise walk it every few large pages (≈ 100 ms each on the shared 2-core box:
            # the week calendar's p95). Unfrozen at shutdown so that tests' apps are collected.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
                await redis.aclose()
        finally:
            await pool.close()

    app = Litestar(
        route_handlers=[*route_handlers(), *web.route_handlers()],
        template_config=web.template_config,
        stores=web.stores,
        lifespan=[lifespan],
        state=State({"settings": settings}),
        dependencies={
            "principal": Provide(require_principal),
            "maybe_principal": Provide(optional_principal),
            "admin": Provide(require_admin),
        },
        exception_handlers=exception_handlers,
        # The one door for input: strict JSON bodies (ApiRequest.json) and clean query strings.
        request_class=ApiRequest,
        before_request=refuse_control_characters,
        openapi_config=OpenAPIConfig(
            title="Nanum API",
            version="1.0.0",
            description=(
                "Nanum (나눔) books idle public rooms. Times are RFC 3339 with an offset; errors "
                "are RFC 9457 problem+json; authenticated calls send `Authorization: Bearer <token>`."
            ),
            path="/schema",
            # The docs' scripts come from the app itself (npm swagger-ui-dist), never a CDN.
            render_plugins=[
                SwaggerRenderPlugin(
                    path=["/", "/swagger"],
                    js_url=web.assets.url("swagger/swagger-ui-bundle.js"),
                    css_url=web.assets.url("swagger/swagger-ui.css"),
                    standalone_preset_js_url=web.assets.url(
                        "swagger/swagger-ui-standalone-preset.js"
                    ),
                    favicon=f'<link rel="icon" href="{web.assets.url("favicon.svg")}">',
                )
            ],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
        ),
        logging_config=None,
        debug=False,
    )
    add_links(app)
    # Outermost layer, so even 404s and 405s get a request id and an access line.
    # Inside it, the security headers (so 404s, 405s and 429s carry them too), then the per-user
    # write rate limit (one Redis round trip per write, fails open).
    app.asgi_handler = RequestLogMiddleware(
        SecurityHeadersMiddleware(
            wrap_rate_limit(app.asgi_handler, settings, lambda: app.state.get("redis"))
        ),
        enabled=settings.access_log,
        settings=settings,
    )
    return app
