"""Who may use the console: sign-in with the admin token, a signed expiring session
cookie, CSRF on every state-changing request, security headers, and off without a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.web.console.gate import CSP
from receiver.web.console.session import COOKIE
from tests.asgi import serving
from tests.web.console.harness import TOKEN, console_app, csrf_of, page_csrf, sign_in

pytestmark = pytest.mark.anyio

PAGES = ["/incidents", "/failures", "/silences", "/delivery", "/status"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_send_a_visitor_to_sign_in_and_back(tmp_path: Path, path: str) -> None:
    async with serving(console_app(tmp_path)) as client:
        before = await client.get(path)
        form = await client.get(before.headers["location"])
        signed = await client.post(
            "/login", data={"csrf": csrf_of(form.text), "token": TOKEN, "next": path}
        )
        after = await client.get(path)
    assert before.status_code == 303
    assert before.headers["location"].startswith("/login?next=")
    assert (signed.status_code, signed.headers["location"]) == (303, path)
    assert after.status_code == 200


async def test_root_redirects_to_incidents(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        response = await client.get("/")
    assert (response.status_code, response.headers["location"]) == (307, "/incidents")


async def test_the_session_cookie_is_signed_httponly_strict_and_expires(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        response = await sign_in(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Max-Age=43200" in cookie
    assert TOKEN not in cookie


async def test_a_wrong_token_is_refused_and_signs_nobody_in(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        refused = await sign_in(client, token="guess")
        page = await client.get("/status")
    assert refused.status_code == 401
    assert "wrong admin token" in refused.text
    assert page.status_code == 303


async def test_a_forged_or_tampered_cookie_is_worthless(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        value = client.cookies[COOKIE]
        expires, nonce, level, signature = value.split(".")
        forged = {
            "anon raised to admin": f"{expires}.{nonce}.admin.{signature}"
            if level == "anon"
            else None,
            "later expiry": f"{int(expires) + 999}.{nonce}.{level}.{signature}",
            "no signature": f"{expires}.{nonce}.{level}.",
            "garbage": "x" * 300,
        }
        answers = {}
        for name, cookie in forged.items():
            if cookie is None:
                continue
            client.cookies.clear()
            client.cookies.set(COOKIE, cookie)
            answers[name] = (await client.get("/status")).status_code
    assert set(answers.values()) == {303}, answers


async def test_a_session_expires(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    app = console_app(tmp_path)
    app.state.services.clock = lambda: now[0]
    async with serving(app) as client:
        await sign_in(client)
        fresh = await client.get("/status")
        now[0] += 12 * 3600 + 1
        stale = await client.get("/status")
    assert (fresh.status_code, stale.status_code) == (200, 303)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/silences", {"matchers": "model_id=x", "duration": "1h", "comment": "c", "author": "a"}),
        ("/silences/preview", {"matchers": "model_id=x"}),
        ("/silences/some-id/expire", {}),
        ("/delivery/retry", {}),
        ("/delivery/1/retry", {}),
        ("/logout", {}),
    ],
)
async def test_state_changing_requests_need_the_csrf_token(
    tmp_path: Path, path: str, data: dict[str, str]
) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        missing = await client.post(path, data=data)
        wrong = await client.post(path, data={**data, "csrf": "not-the-token"})
        listed = await client.get("/silences")
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "model_id=" not in listed.text.split("<h2>Active</h2>")[1]


async def test_login_itself_needs_the_form_csrf_token(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        response = await client.post("/login", data={"token": TOKEN})
        page = await client.get("/status")
    assert response.status_code == 403
    assert page.status_code == 303


async def test_logout_ends_the_session(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        out = await client.post("/logout", data={"csrf": await page_csrf(client, "/status")})
        page = await client.get("/status")
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert page.status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", "x"])
async def test_sign_in_never_redirects_off_site(tmp_path: Path, target: str) -> None:
    async with serving(console_app(tmp_path)) as client:
        form = await client.get("/login")
        response = await client.post(
            "/login", data={"csrf": csrf_of(form.text), "token": TOKEN, "next": target}
        )
    assert response.headers["location"] == "/incidents"


@pytest.mark.parametrize("path", ["/login", *PAGES, "/static/console.js"])
async def test_security_headers(tmp_path: Path, path: str) -> None:
    async with serving(console_app(tmp_path)) as client:
        if path != "/login":
            await sign_in(client)
        response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP
    assert "'unsafe-inline'" not in CSP
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_inline_script_or_style_in_any_page(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        pages = [(await client.get(path)).text for path in ["/login", *PAGES]]
    for html in pages:
        assert "<script>" not in html
        assert " style=" not in html
        assert "<style" not in html
        assert " on" + "click=" not in html


async def test_the_console_is_off_without_an_admin_token(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path, admin_token=None)) as client:
        answers = [(await client.get(path)).status_code for path in ["/login", *PAGES]]
        posted = await client.post("/login", data={"token": ""})
    assert set(answers) == {404}
    assert posted.status_code == 404


async def test_insecure_no_auth_opens_the_console_without_a_token(tmp_path: Path) -> None:
    app = console_app(tmp_path, admin_token=None, insecure_no_auth=True)
    async with serving(app) as client:
        page = await client.get("/silences")
        created = await client.post(
            "/silences",
            data={
                "csrf": csrf_of(page.text),
                "matchers": "model_id=flux-pro",
                "duration": "1h",
                "comment": "trial",
                "author": "me",
            },
        )
        refused = await client.post("/silences", data={"matchers": "model_id=x"})
    assert page.status_code == 200
    assert created.status_code == 303
    # Still a CSRF token: an open console is no reason to let other sites post to it.
    assert refused.status_code == 403
    assert "Sign out" not in page.text


async def test_an_admin_token_still_wins_over_insecure_no_auth(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path, insecure_no_auth=True)) as client:
        response = await client.get("/status")
    assert response.status_code == 303
