"""Browser tests of the pages: one real site per session, one Chromium per session.

- ``site``: the real app behind uvicorn on a loopback port, the real arq worker and an SMTP
  server (aiosmtpd), all in one background thread with its own event loop, on a database cloned
  from the migrated template and the configured Redis. Tests seed rows with ``site.run(coro)``.
- ``browser``: Debian's ``/usr/bin/chromium`` driven by Playwright (its own browser download is
  not used), headless, with no background networking.
- ``shoot(page, name)``: axe-core (WCAG 2.x A/AA) on the page, then screenshots at 360 px and
  1280 px into ``artifacts/screenshots/`` (git-ignored) on every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from redis.asyncio import Redis

from booking.app import create_app
from booking.notifications.smtp_sink import ReceivedMail, RecordingHandler
from booking.romanize import english_name
from booking.settings import Settings
from tests.conftest import REDIS_URL, _admin, database_url_for, make_settings
from tests.factories import create_institution, create_room, set_weekly_rules
from tests.jobs.helpers import free_port, running_worker

T = TypeVar("T")
SEOUL = ZoneInfo("Asia/Seoul")
CHROMIUM = os.environ.get("NANUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "correct horse battery"
LOCALES = {"ko": "ko-KR", "en": "en-US"}


@dataclass
class Site:
    url: str
    settings: Settings
    smtp: RecordingHandler
    loop: asyncio.AbstractEventLoop
    pool: asyncpg.Pool
    stop: asyncio.Event
    screenshots: set[str] = field(default_factory=set)

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the site's event loop (where its pool lives) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)  # type: ignore[arg-type]


def _serve_in_thread(
    database_url: str, ready: Callable[[Site], None], failed: Callable[[BaseException], None]
) -> None:
    handler = RecordingHandler()
    smtp_port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    smtp.start()

    async def main() -> None:
        # arq de-duplicates by job id ("outbox:<id>") and ids restart in every test database.
        redis = Redis.from_url(REDIS_URL)
        await redis.flushdb()
        await redis.aclose()
        port = free_port()
        settings = make_settings(
            database_url,
            REDIS_URL,
            smtp_port=str(smtp_port),
            public_base_url=f"http://127.0.0.1:{port}",  # the links in e-mails lead here
        )
        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
        assert pool is not None
        stop = asyncio.Event()
        try:
            async with running_worker(settings):
                ready(
                    Site(
                        f"http://127.0.0.1:{port}",
                        settings,
                        handler,
                        asyncio.get_running_loop(),
                        pool,
                        stop,
                    )
                )
                await stop.wait()
        finally:
            await pool.close()
            server.should_exit = True
            await task

    try:
        asyncio.run(main())
    except BaseException as exc:
        failed(exc)
    finally:
        smtp.stop()


@pytest.fixture(scope="session")
def site(template_database: str) -> Iterator[Site]:
    name = f"nanum_web_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    started: list[Site] = []
    errors: list[BaseException] = []
    event = threading.Event()

    def ready(s: Site) -> None:
        started.append(s)
        event.set()

    def failed(exc: BaseException) -> None:
        errors.append(exc)
        event.set()

    thread = threading.Thread(
        target=_serve_in_thread, args=(database_url_for(name), ready, failed), daemon=True
    )
    thread.start()
    event.wait(60)
    if errors or not started:
        raise RuntimeError(f"the site did not start: {errors}")
    s = started[0]
    try:
        yield s
    finally:
        s.loop.call_soon_threadsafe(s.stop.set)
        thread.join(30)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="package")
def playwright(site: Site) -> Iterator[Playwright]:
    """Sync Playwright runs an event loop in this thread while it lives: it starts after the
    site (whose set-up uses asyncio.run) and ends with this package, so no other test meets it.
    Tests of this package are therefore plain functions; async work goes through ``site.run``."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="package")
def axe() -> Axe:
    return Axe()


def new_context(browser: Browser, lang: str, *, javascript: bool = True) -> BrowserContext:
    context = browser.new_context(
        locale=LOCALES[lang],
        java_script_enabled=javascript,
        viewport={"width": 1280, "height": 900},
        extra_http_headers={"Accept-Language": LOCALES[lang]},
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def shoot(axe: Axe) -> Callable[[Page, str], None]:
    """axe-core on the page (zero WCAG 2.x A/AA violations), then screenshots at both widths."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def check(page: Page, name: str) -> None:
        results = axe.run(
            page,
            options={
                "runOnly": {
                    "type": "tag",
                    "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
                }
            },
        )
        violations = results.response["violations"]
        assert not violations, f"{name}: " + "; ".join(
            f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in violations
        )
        size = page.viewport_size or {"width": 1280, "height": 900}
        for width in (360, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            overflow = page.evaluate("() => document.documentElement.scrollWidth")
            if overflow > width:
                widest = page.evaluate(
                    """(w) => [...document.querySelectorAll('body *')]
                        .filter(e => e.getBoundingClientRect().right > w)
                        .slice(-3).map(e => e.tagName + '.' + e.className)""",
                    width,
                )
                raise AssertionError(
                    f"{name} scrolls sideways at {width} px ({overflow} px): {widest}"
                )
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size(size)

    return check


# --- data ---------------------------------------------------------------------------------------


def next_saturday() -> date:
    today = datetime.now(SEOUL).date()
    days = (5 - today.weekday()) % 7 or 7
    return today + timedelta(days=days)


def seoul(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SEOUL)


@dataclass(frozen=True)
class SeededRoom:
    id: uuid.UUID
    name: str

    def shown(self, lang: str) -> str:
        """The room's name as the pages show it: in English, the English name the services
        answer (romanized, since the seeded room has none)."""
        return self.name if lang == "ko" else english_name(None, self.name)[0]


def seed_room(site: Site, name: str | None = None, **kwargs: Any) -> SeededRoom:
    """A room of a 마포구 community centre, open every day 09:00–21:00."""
    name = name or f"회의실 {secrets.token_hex(2).upper()}"

    async def make() -> uuid.UUID:
        institution = await create_institution(
            site.pool, name=f"망원{secrets.randbelow(9) + 1}동 주민센터", district="마포구"
        )
        room = await create_room(site.pool, institution, name=name, always_open=False, **kwargs)
        await set_weekly_rules(site.pool, room, [([1, 2, 3, 4, 5, 6, 7], "09:00", "21:00")])
        return room

    return SeededRoom(site.run(make()), name)


def wait_for_mail(site: Site, email: str, within: float = 20, subject: str = "") -> EmailMessage:
    """The first e-mail to ``email`` (whose subject contains ``subject``) that reached the
    site's SMTP server."""
    return site.smtp.wait_for(
        lambda m: email in m.recipients and subject in str(m.message["Subject"]), within
    ).message


def _link(mail: ReceivedMail, url: str) -> str | None:
    body = mail.message.get_body(("plain",))
    assert body is not None
    found = re.search(re.escape(url) + r"\S*", body.get_content())
    return found.group(0) if found else None


def mailed_link(site: Site, email: str, path: str) -> str:
    """The link to ``path`` (e.g. ``/verify-email``) in the e-mail that reached ``email``."""
    mail = site.smtp.wait_for(
        lambda m: email in m.recipients and _link(m, site.url + path) is not None, 20
    )
    link = _link(mail, site.url + path)
    assert link is not None
    return link


def sign_up(page: Page, site: Site, lang: str) -> str:
    """Create an account through the sign-up page, then open the verification link from the
    e-mail that reached the SMTP server (which signs in); the account's e-mail address."""
    email = f"web-{secrets.token_hex(4)}@example.org"
    page.goto(f"{site.url}/sign-up")
    page.get_by_label("이름" if lang == "ko" else "Name", exact=False).first.fill("김나눔")
    page.get_by_label("이메일 주소" if lang == "ko" else "E-mail address").fill(email)
    page.get_by_label("비밀번호" if lang == "ko" else "Password").fill(PASSWORD)
    page.get_by_role("button", name="가입하기" if lang == "ko" else "Create my account").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "이메일을 확인하세요" if lang == "ko" else "Check your e-mail"
    )
    page.goto(mailed_link(site, email, "/verify-email"))
    page.wait_for_load_state()
    expect(page.locator(".notice-success")).to_contain_text(
        "이메일 주소를 확인했고" if lang == "ko" else "Your e-mail address is confirmed"
    )
    return email


@contextlib.contextmanager
def opened(browser: Browser, lang: str, *, javascript: bool = True) -> Iterator[Page]:
    context = new_context(browser, lang, javascript=javascript)
    try:
        yield context.new_page()
    finally:
        context.close()
