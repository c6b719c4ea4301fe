"""The foundation of the pages over plain HTTP (the same live site as the browser tests):
headers, assets, sessions, CSRF next to the bearer-token API, languages, hostile input, and a
complete Korean catalogue."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from redis import Redis

from tests.conftest import REDIS_URL
from tests.web.conftest import PASSWORD, Site, mailed_link, next_saturday, seed_room, seoul

WEB = Path(__file__).resolve().parents[2] / "booking" / "web"


def _client(site: Site, lang: str = "ko") -> httpx.Client:
    return httpx.Client(base_url=site.url, headers={"Accept-Language": lang}, timeout=15)


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match, "every form carries a CSRF token"
    return match.group(1)


def _sign_up(client: httpx.Client, site: Site) -> str:
    """Sign up, then open the verification link from the e-mail (which signs in)."""
    email = f"http-{uuid.uuid4().hex[:8]}@example.org"
    token = _csrf(client, "/sign-up")
    answer = client.post(
        "/sign-up",
        data={"_csrf_token": token, "name": "박시민", "email": email, "password": PASSWORD},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/check-your-email"
    verified = client.get(mailed_link(site, email, "/verify-email").removeprefix(site.url))
    assert verified.status_code == 303 and verified.headers["location"] == "/", verified.text
    return email


def test_pages_send_a_strict_policy_and_contain_no_inline_script_or_style(site: Site) -> None:
    with _client(site) as client:
        for path in ("/", "/sign-in", "/sign-up", f"/rooms/{seed_room(site).id}"):
            page = client.get(path)
            assert page.status_code == 200
            csp = page.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["referrer-policy"] == "same-origin"
            assert page.headers["cache-control"] == "no-store"
            assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), path
            assert not re.search(r"\s(style|on[a-z]+)=", page.text), path
            assert not re.search(
                r'(src|href)="(https?:)?//', page.text.replace("https://map.kakao.com", "")
            ), path


def test_a_page_refused_before_its_handler_still_carries_the_pages_headers(site: Site) -> None:
    """A form post without the CSRF token is refused by the CSRF check, outside the pages'
    middleware; its error page still gets the pages' policy and headers."""
    with _client(site) as client:
        _csrf(client, "/sign-in")  # a session and a CSRF cookie, but no token in the form
        refused = client.post("/sign-in", data={"email": "a@example.org", "password": "x"})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        csp = refused.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert refused.headers["x-frame-options"] == "DENY"
        assert refused.headers["referrer-policy"] == "same-origin"
        assert refused.headers["x-content-type-options"] == "nosniff"
        # The API docs keep their own policy (Swagger UI starts itself with an inline script).
        docs = client.get("/schema")
        assert docs.status_code == 200
        assert "x-frame-options" not in docs.headers


def test_assets_are_fingerprinted_immutable_compressed_and_local(site: Site) -> None:
    with _client(site) as client:
        page = client.get("/")
        css_url = re.search(r'href="(/static/site\.[0-9a-f]{12}\.css)"', page.text)
        js_url = re.search(r'src="(/static/site\.[0-9a-f]{12}\.js)"', page.text)
        assert css_url and js_url
        for url in (css_url.group(1), js_url.group(1)):
            br = client.get(url, headers={"Accept-Encoding": "br"})
            assert br.status_code == 200
            assert br.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert br.headers["content-encoding"] == "br"
            gz = client.get(url, headers={"Accept-Encoding": "gzip"})
            assert gz.headers["content-encoding"] == "gzip"
        css = client.get(css_url.group(1)).text
        # Icons and the typeface come from here, not from the KRDS website or a CDN.
        assert "krds.go.kr" not in css and "//" not in re.sub(
            r"/\*.*?\*/", "", css, flags=re.S
        ).replace("://", "")
        fonts = re.findall(r"url\((pretendard-gov-[a-z]+\.[0-9a-f]{12}\.woff2)\)", css)
        assert len(fonts) == 2
        for font in fonts:
            assert client.get(f"/static/{font}").headers["content-type"] == "font/woff2"
        assert client.get("/static/nothing.123456789012.css").status_code == 404
        docs = client.get("/schema")
        assert docs.status_code == 200
        for ref in re.findall(r'(?:src|href)=["\']([^"\']+)["\']', docs.text):
            assert ref.startswith(("/static/", "/schema")), ref


def _set_cookies(answer: httpx.Response) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for header in answer.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        cookies[name.strip()] = rest.split(";")[0]
    return cookies


def test_sign_in_replaces_the_session_id_and_sign_out_ends_it_on_the_server(site: Site) -> None:
    store = Redis.from_url(REDIS_URL)
    try:
        with _client(site) as client:
            email = _sign_up(client, site)
        with _client(site) as client:
            # A session id planted before sign-in is worthless after it.
            token = _csrf(client, "/sign-in")
            csrf_cookie = client.cookies["nanum_csrf"]
            client.cookies.clear()
            answer = client.post(
                "/sign-in",
                data={
                    "_csrf_token": token,
                    "email": email,
                    "password": PASSWORD,
                    "next": "/account",
                },
                headers={"Cookie": f"nanum_csrf={csrf_cookie}; nanum_session=planted-by-someone"},
            )
            assert answer.status_code == 303 and answer.headers["location"] == "/account"
            session_id = _set_cookies(answer)["nanum_session"]
            assert session_id and session_id != "planted-by-someone"
            cookie = next(
                h for h in answer.headers.get_list("set-cookie") if h.startswith("nanum_session=")
            )
            assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
            assert store.exists(f"nanum-sessions:{session_id}")
            jar = {"Cookie": f"nanum_csrf={csrf_cookie}; nanum_session={session_id}"}
            client.cookies.clear()
            account = client.get("/account", headers=jar)
            assert account.status_code == 200
            found = re.search(r'name="_csrf_token" value="([^"]+)"', account.text)
            assert found
            client.cookies.clear()
            signed_out = client.post("/sign-out", data={"_csrf_token": found.group(1)}, headers=jar)
            assert signed_out.status_code == 303
            assert not store.exists(f"nanum-sessions:{session_id}")
            # The old cookie, replayed by anyone, opens nothing.
            client.cookies.clear()
            answer = client.get("/my/bookings", headers=jar)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/sign-in?next=/my/bookings"
    finally:
        store.close()


def test_the_api_keeps_its_bearer_tokens_and_needs_no_csrf_token(site: Site) -> None:
    room = seed_room(site)
    with _client(site) as client:
        email = f"api-{uuid.uuid4().hex[:8]}@example.org"
        assert (
            client.post(
                "/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "API"}
            ).status_code
            == 202
        )
        link = mailed_link(site, email, "/verify-email")
        token_in_mail = link.partition("token=")[2]
        assert (
            client.post("/v1/auth/verify-email", json={"token": token_in_mail}).status_code == 204
        )
        token = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        start = seoul(next_saturday(), 19)
        answer = client.post(
            "/v1/bookings",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "room_id": str(room.id),
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "attendees": 2,
            },
        )
        assert answer.status_code == 201, answer.text
        assert "set-cookie" not in answer.headers


def test_the_language_switch_is_remembered_and_only_goes_back_here(site: Site) -> None:
    with _client(site, "ko") as client:
        assert '<html lang="ko">' in client.get("/").text
        answer = client.get("/lang/en", params={"next": "/sign-in"})
        assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
        page = client.get("/")
        assert '<html lang="en">' in page.text and "Find a free room near you" in page.text
        for hostile in (
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
        ):
            answer = client.get("/lang/ko", params={"next": hostile})
            assert answer.headers["location"] == "/", hostile
    with _client(site, "en-GB,en;q=0.9,ko;q=0.5") as english:
        assert '<html lang="en">' in english.get("/").text


def test_hostile_input_gets_an_answer_below_500(site: Site) -> None:
    room = seed_room(site)
    with _client(site) as client:
        _sign_up(client, site)
        token = _csrf(client, "/account")
        gets = [
            "/?district=%00&date=9999-99-99&start=25:99&duration=-1&people=1e9",
            "/?near=91,181&q=" + "가" * 500,
            "/?cursor=%FF%FE&district=마포구",
            "/?equipment=rocket&equipment=projector",
            f"/rooms/{room.id}?week=0000-00-00&reschedule=../../etc",
            f"/rooms/{room.id}/book?start=yesterday",
            f"/rooms/{room.id}/book?start=2026-12-05T10:00:00",
            f"/my/bookings/{uuid.uuid4()}",
            f"/my/bookings/{uuid.uuid4()}/reschedule?start=x",
            "/lang/xx?next=%0d%0aSet-Cookie:a=b",
        ]
        for path in gets:
            status = client.get(path).status_code
            assert status < 500, (path, status)
        posts = [
            (f"/rooms/{room.id}/book", {"start": "nope", "end": "nope"}),
            (
                f"/rooms/{room.id}/book",
                {
                    "start": "2026-12-05T10:00:00+09:00",
                    "end": "2026-12-05T09:00:00+09:00",
                    "attendees": "3",
                    "agree": "yes",
                    "key": "k" * 300,
                },
            ),
            (f"/my/bookings/{uuid.uuid4()}/cancel", {}),
            (f"/my/bookings/{uuid.uuid4()}/check-in", {}),
            ("/sign-in", {"email": "\x00" * 5000, "password": "x" * 5000}),
            ("/sign-up", {"email": "a@b", "password": "short", "name": " "}),
        ]
        for path, data in posts:
            status = client.post(path, data={"_csrf_token": token, **data}).status_code
            assert status < 500, (path, status)


def test_every_message_of_the_pages_has_a_korean_translation() -> None:
    repo = WEB.parents[1]
    extracted = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(repo / "booking" / "web"),
            method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
        )
    }
    with (WEB / "translations" / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        korean = {m.id: m.string for m in read_po(source) if m.id}
    missing = sorted(str(m) for m in extracted if not korean.get(m))
    assert not missing, f"untranslated: {missing}"
