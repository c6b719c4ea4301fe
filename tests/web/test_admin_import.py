"""The admin's open-data import in a real browser and over HTTP: an admin uploads rows of the
national file, the status page follows the job to its end (htmx polling, or a refresh link
without JavaScript) and shows the importer's own report, whose skipped rows download as CSV;
refused uploads (too large, empty, not the standard, undecodable) are answered next to the field
or with 413 and write nothing; only admins may upload, and only with the CSRF token."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from arq.connections import RedisSettings, create_pool
from playwright.sync_api import Browser, Page, expect

from booking.catalogue import import_jobs
from booking.catalogue.importer import ImportReport
from tests.factories import User, create_user
from tests.jobs.helpers import UPLOAD_FIXTURE as UPLOAD
from tests.jobs.helpers import direct_report
from tests.web.conftest import Site, opened
from tests.web.test_manager_pages import _csrf, _manager, _sign_in, _signed_in_client

pytestmark = pytest.mark.slow

T = {
    "ko": {
        "nav": "공공데이터 가져오기",
        "file": "CSV 파일",
        "upload": "올리고 가져오기",
        "empty": "빈 파일입니다",
        "rows": "12행 중 12행",
        "queued_rows": "12행 중 0행",
        "done": "완료",
        "queued": "시작 대기 중",
        "download": "건너뛴 행 내려받기 (CSV)",
        "refresh": "새로 고침",
        "repeats": "앞의 행과 같은 시설",
        "not_standard": "전국 표준데이터 CSV가 아닙니다",
        "too_large": "10MB보다 큽니다",
        "retry": "가져오기 다시 시도",
        "retried": "멈춘 곳부터 이어서 합니다",
        "failed": "오류로 멈춤",
    },
    "en": {
        "nav": "Open data import",
        "file": "CSV file",
        "upload": "Upload and import",
        "empty": "The file is empty",
        "rows": "12 of 12 rows",
        "queued_rows": "0 of 12 rows",
        "done": "Finished",
        "queued": "Waiting to start",
        "download": "Download the skipped rows (CSV)",
        "refresh": "Refresh",
        "repeats": "Repeats an earlier row",
        "not_standard": "This is not the national standard CSV",
        "too_large": "larger than 10 MB",
        "retry": "Retry the import",
        "retried": "it continues where it stopped",
        "failed": "Stopped by an error",
    },
}
TOTALS = (
    "rooms_created",
    "rooms_updated",
    "rooms_unchanged",
    "institutions_created",
    "institutions_updated",
    "institutions_unchanged",
    "closed_days_kept_as_note",
    "without_capacity",
    "without_coordinates",
)


def _admin(site: Site) -> User:
    return site.run(create_user(site.pool, site.settings, role="admin", name="관리자"))


def _imports(site: Site) -> int:
    count: int = site.run(site.pool.fetchval("SELECT count(*) FROM open_data_imports"))
    return count


def _check_report(page: Page, expected: ImportReport) -> None:
    """The page's report is the importer's: each reason with its count, and the totals."""
    table = page.locator("#skip-table tbody tr")
    expect(table).to_have_count(len(expected.skipped))
    for reason, count in expected.skipped.items():
        cell = page.locator(f'#skip-table tr[data-reason="{reason}"] td')
        expect(cell).to_have_text(str(count))
    for key in TOTALS:
        expect(page.locator(f'#import-totals dd[data-k="{key}"]')).to_have_text(
            str(getattr(expected, key))
        )
    skipped = page.locator('#import-totals dd[data-k="skipped"]')
    expect(skipped).to_have_text(str(sum(expected.skipped.values())))


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_an_admin_uploads_the_file_watches_it_finish_and_gets_the_importers_report(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str, tmp_path: Path
) -> None:
    t = T[lang]
    admin = _admin(site)
    raw = UPLOAD.read_bytes()
    # What the importer reports for the same file on this database, computed directly (rolled
    # back): in the second language the rooms exist already, and the report says so.
    expected = site.run(direct_report(site.pool, raw))
    with opened(browser, lang) as page:
        _sign_in(page, site, admin.email)
        page.goto(f"{site.url}/admin")
        page.get_by_role("link", name=t["nav"]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(t["nav"])
        expect(page.locator("#f-file-hint")).to_contain_text("10")
        shoot(page, f"admin-import-{lang}")

        # An empty file: refused next to the field, in the page language; nothing written.
        before = _imports(site)
        empty = tmp_path / "empty.csv"
        empty.write_bytes(b"")
        page.get_by_label(t["file"]).set_input_files(str(empty))
        page.get_by_role("button", name=t["upload"]).click()
        expect(page.locator("#f-file-error")).to_contain_text(t["empty"])
        expect(page.locator("#error-summary")).to_be_visible()
        shoot(page, f"admin-import-refused-{lang}")
        assert _imports(site) == before

        # The fixture: rows of the national file, CP949 as published.
        page.get_by_label(t["file"]).set_input_files(str(UPLOAD))
        page.get_by_role("button", name=t["upload"]).click()
        expect(page).to_have_url(re.compile(r"/admin/imports/[0-9a-f-]{36}$"))
        expect(page.locator("#import-progress-text")).to_have_text(t["rows"], timeout=30_000)
        expect(page.locator("#import-status .status-badge")).to_have_text(t["done"])
        progress = page.locator("progress#import-progress")
        assert progress.get_attribute("value") == progress.get_attribute("max") == "12"
        _check_report(page, expected)
        expect(page.locator(f'#skip-table th:has-text("{t["repeats"]}")')).to_be_visible()
        # Finished: nothing polls any more.
        assert page.locator("#import-status").get_attribute("hx-trigger") is None
        shoot(page, f"admin-import-done-{lang}")

        # The skipped rows as CSV: UTF-8 with a BOM, the importer's own report.
        with page.expect_download() as download:
            page.get_by_role("link", name=t["download"]).click()
        data = Path(download.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        assert data[3:].decode("utf-8") == expected.csv_text()
        assert len(data[3:].decode("utf-8").splitlines()) == 1 + sum(expected.skipped.values())

        # The import page lists it.
        page.get_by_role("link", name=t["nav"]).first.click()
        expect(page.get_by_role("link", name="open-data-upload.csv").first).to_be_visible()
        shoot(page, f"admin-import-list-{lang}")


def _queued_import(site: Site, admin: User) -> uuid.UUID:
    """An import stored but not yet handed to the worker (as when Redis missed the job)."""

    async def make() -> uuid.UUID:
        ident: uuid.UUID = await site.pool.fetchval(
            "INSERT INTO open_data_imports (uploaded_by, filename, content, size_bytes,"
            " rows_total) VALUES ($1, 'queued.csv', $2, octet_length($2::bytea), 12)"
            " RETURNING id",
            admin.id,
            UPLOAD.read_bytes(),
        )
        return ident

    return site.run(make())


def _start(site: Site, import_id: uuid.UUID) -> None:
    async def enqueue() -> None:
        arq = await create_pool(RedisSettings.from_dsn(site.settings.redis_url))
        try:
            await import_jobs.enqueue_step(arq, import_id, 0, ":test")
        finally:
            await arq.aclose()

    site.run(enqueue())


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_status_page_follows_the_job_by_itself_and_stops_when_done(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    t = T[lang]
    admin = _admin(site)
    import_id = _queued_import(site, admin)
    with opened(browser, lang) as page:
        _sign_in(page, site, admin.email)
        page.goto(f"{site.url}/admin/imports/{import_id}")
        expect(page.locator("#import-status .status-badge")).to_have_text(t["queued"])
        expect(page.locator("#import-progress-text")).to_have_text(t["queued_rows"])
        assert page.locator("#import-status").get_attribute("hx-trigger") == "every 1s"
        shoot(page, f"admin-import-queued-{lang}")
        requests: list[str] = []
        page.on(
            "request", lambda r: requests.append(r.url) if r.headers.get("hx-request") else None
        )
        _start(site, import_id)
        # No reload: htmx swaps the status in, and stops asking once it is finished.
        expect(page.locator("#import-progress-text")).to_have_text(t["rows"], timeout=30_000)
        expect(page.locator("#import-status .status-badge")).to_have_text(t["done"])
        assert page.locator("#import-status").get_attribute("hx-trigger") is None
        asked = len(requests)
        assert asked >= 1
        page.wait_for_timeout(2500)
        assert len(requests) == asked


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_failed_import_shows_its_error_and_its_retry_button_runs_it_again(
    browser: Browser, site: Site, shoot: Callable[[Page, str], None], lang: str
) -> None:
    t = T[lang]
    admin = _admin(site)
    import_id = _queued_import(site, admin)
    error = "ConnectionDoesNotExistError: connection was closed in the middle of operation"
    site.run(
        site.pool.execute(
            "UPDATE open_data_imports SET status = 'failed', error = $2 WHERE id = $1",
            import_id,
            error,
        )
    )
    with opened(browser, lang) as page:
        _sign_in(page, site, admin.email)
        page.goto(f"{site.url}/admin/imports/{import_id}")
        expect(page.locator("#import-status .status-badge")).to_have_text(t["failed"])
        expect(page.locator("#import-status .job-error")).to_have_text(error)
        assert page.locator("#import-status").get_attribute("hx-trigger") is None
        shoot(page, f"admin-import-failed-{lang}")
        page.get_by_role("button", name=t["retry"]).click()
        expect(page.locator(".notice-success").first).to_contain_text(t["retried"])
        expect(page.locator("#import-progress-text")).to_have_text(t["rows"], timeout=30_000)
        expect(page.locator("#import-status .status-badge")).to_have_text(t["done"])


def test_without_javascript_the_status_page_has_a_refresh_link(
    browser: Browser, site: Site
) -> None:
    t = T["en"]
    admin = _admin(site)
    import_id = _queued_import(site, admin)
    with opened(browser, "en", javascript=False) as page:
        _sign_in(page, site, admin.email)
        page.goto(f"{site.url}/admin/imports/{import_id}")
        expect(page.locator("#import-progress-text")).to_have_text(t["queued_rows"])
        _start(site, import_id)
        for _ in range(60):
            page.get_by_role("link", name=t["refresh"]).click()
            page.wait_for_load_state()
            if page.locator("#import-progress-text").inner_text() == t["rows"]:
                break
            page.wait_for_timeout(500)
        expect(page.locator("#import-status .status-badge")).to_have_text(t["done"])
        expect(page.get_by_role("link", name=t["refresh"])).to_have_count(0)


def _multipart(
    token: str | None, content: bytes, name: str = "upload.csv", region: str = ""
) -> dict[str, object]:
    data = {"region": region}
    if token is not None:
        data["_csrf_token"] = token
    return {"data": data, "files": {"file": (name, content, "text/csv")}}


def test_refused_uploads_are_answered_next_to_the_field_or_with_413_and_write_nothing(
    site: Site,
) -> None:
    admin = _admin(site)
    before = _imports(site)
    good = UPLOAD.read_bytes()
    with _signed_in_client(site, admin.email) as client:
        client.cookies.set("lang", "en")
        token = _csrf(client, "/admin/imports")
        cases: list[tuple[dict[str, object], int, str, str]] = [
            (_multipart(token, b""), 400, "file", "The file is empty"),
            (_multipart(token, b"\x89PNG\r\n\x1a\n\x00\x00"), 400, "file", "not the national"),
            (_multipart(token, b"name,place\na,b\n"), 400, "file", "not the national"),
            (
                _multipart(token, "개방시설명,개방장소명\n".encode() + b"\xff\xfe\n"),
                400,
                "file",
                "neither UTF-8 nor CP949",
            ),
            (_multipart(token, good, region="아틀란티스"), 400, "region", "Choose a region"),
            ({"data": {"_csrf_token": token, "region": ""}}, 400, "file", "Choose the CSV file"),
            # Over the file limit, inside the body limit: the field says so (413).
            (
                _multipart(token, b"x" * (import_jobs.MAX_UPLOAD_BYTES + 1)),
                413,
                "file",
                "larger than 10 MB",
            ),
        ]
        for request, status, field, text in cases:
            answer = client.post("/admin/imports", **request)  # type: ignore[arg-type]
            assert answer.status_code == status, (field, text, answer.status_code)
            error = re.search(rf'id="f-{field}-error">(.*?)</p>', answer.text, re.S)
            assert error is not None and text in error.group(1), (field, text)
        # A body over the route's limit is refused before it is read: 413, never a 5xx.
        huge = _multipart(token, b"x" * (import_jobs.MAX_UPLOAD_BYTES + 200_000))
        try:
            answer = client.post("/admin/imports", **huge)  # type: ignore[arg-type]
        except httpx.TransportError:
            pass  # the server may close the connection while the client still sends
        else:
            assert answer.status_code == 413
            assert "10 MB" in answer.text
    assert _imports(site) == before


def test_only_admins_upload_or_see_imports_and_never_without_the_csrf_token(
    site: Site,
) -> None:
    admin = _admin(site)
    manager, _ = _manager(site)
    citizen = site.run(create_user(site.pool, site.settings, name="이시민"))
    existing = _queued_import(site, admin)
    site.run(
        site.pool.execute(
            "UPDATE open_data_imports SET status = 'failed', error = 'x' WHERE id = $1", existing
        )
    )
    before = _imports(site)
    good = UPLOAD.read_bytes()
    paths = [
        "/admin/imports",
        f"/admin/imports/{existing}",
        f"/admin/imports/{existing}/skipped.csv",
    ]
    for user in (manager, citizen):
        with _signed_in_client(site, user.email) as client:
            token = _csrf(client, "/account")
            for path in paths:
                assert client.get(path).status_code == 404, (user.role, path)
            assert client.post("/admin/imports", **_multipart(token, good)).status_code == 404  # type: ignore[arg-type]
            retry = client.post(f"/admin/imports/{existing}/retry", data={"_csrf_token": token})
            assert retry.status_code == 404
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=20) as anonymous:
        token = _csrf(anonymous, "/sign-in")
        assert anonymous.get("/admin/imports").status_code == 303
        answer = anonymous.post("/admin/imports", **_multipart(token, good))  # type: ignore[arg-type]
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
    with _signed_in_client(site, admin.email) as client:
        # No token: 403, nothing stored, nothing retried.
        assert client.post("/admin/imports", **_multipart(None, good)).status_code == 403  # type: ignore[arg-type]
        assert client.post(f"/admin/imports/{existing}/retry").status_code == 403
    assert _imports(site) == before
    status = site.run(
        site.pool.fetchval("SELECT status FROM open_data_imports WHERE id = $1", existing)
    )
    assert status == "failed"


def test_a_hostile_file_name_is_stored_clean_and_a_short_region_name_is_understood(
    site: Site,
) -> None:
    admin = _admin(site)
    with _signed_in_client(site, admin.email) as client:
        token = _csrf(client, "/admin/imports")
        answer = client.post(
            "/admin/imports",
            **_multipart(
                token, UPLOAD.read_bytes(), name="C:\\temp\\..\\x\u202e\x07.csv", region="서울"
            ),  # type: ignore[arg-type]
        )
        assert answer.status_code == 303
        import_id = uuid.UUID(answer.headers["location"].rsplit("/", 1)[-1])
        page = client.get(f"/admin/imports/{import_id}")
        assert page.status_code == 200
    row = site.run(
        site.pool.fetchrow(
            "SELECT filename, region FROM open_data_imports WHERE id = $1", import_id
        )
    )
    assert row is not None and row["region"] == "서울특별시"
    # No folders, no control or direction characters (httpx sends the BEL as %07).
    assert row["filename"] in ("x.csv", "x%07.csv")
