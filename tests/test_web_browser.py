"""The web UI in a real browser: Debian's chromium driven by Playwright (pytest-playwright)
against a real ``toolvault serve`` on 127.0.0.1.

The main path from a search to the audit log, signing in and out, a label set through
the page, a read-only token that sees no write controls and whose forged forms are
refused, the main path by keyboard alone, and hostile content that must stay inert.
Screenshots of every page go to tests/artifacts/web/ (ignored by git) for a person to
look at. One browser serves the whole module. Without chromium these tests skip, except
under CI=true, where that is a failure (as for PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import websites

# TOOLVAULT_TEST_CHROMIUM: another browser (tests/test_ci_guards.py names a missing one)
CHROMIUM = (
    os.environ.get("TOOLVAULT_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
ARTIFACTS = Path(__file__).parent / "artifacts" / "web"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]  # fmt: skip


def _no_browser(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs the browser tests: {why}")
    pytest.skip(f"{why}: the web UI's browser tests are skipped (scripts/web-deps.sh installs it)")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright launches the system chromium (Playwright cannot download one)."""
    return {"executable_path": CHROMIUM, "args": FLAGS, "headless": True}


@pytest.fixture(scope="module")
def chromium(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One browser for the module (pytest-playwright's launcher), or a skip without one."""
    if not os.access(CHROMIUM, os.X_OK):
        _no_browser(f"no chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401 -- pytest-playwright's launcher needs it
    except ImportError:
        _no_browser("Playwright is not installed (the test extra)")
    browser = request.getfixturevalue("launch_browser")()
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[websites.Site]:
    """The test vault behind a daemon that needs a token to read."""
    import websites

    found = websites.start(tmp_path_factory.mktemp("web") / "home")
    yield found
    found.daemon.stop()


class Watched:
    """A page whose dialogs and console messages are recorded: a script that ran
    (an ``alert``, an error, a CSP refusal) shows up here."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.console: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def inert(self) -> None:
        """No dialog, no console message, no global set by a hostile script."""
        assert self.dialogs == []
        assert self.console == [], "\n".join(self.console)
        assert self.page.evaluate("typeof window.__xss") == "undefined"

    def laid_out(self) -> None:
        """The page is no wider than the window: long lines wrap or scroll in their box."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"] + 1, width


@pytest.fixture
def tab(chromium: Any) -> Iterator[Watched]:
    """A fresh browser context (no cookies) and its page, at laptop size."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield Watched(context.new_page())
    context.close()


def shot(page: Any, name: str) -> None:
    """A full-page screenshot for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(tab: Watched, site: websites.Site, token: str) -> None:
    tab.page.goto(f"{site.url}/ui/")
    assert tab.page.get_by_role("heading", name="Sign in").is_visible()
    tab.page.get_by_label("Token").fill(token)
    tab.page.get_by_role("button", name="Sign in").click()
    tab.page.wait_for_url(f"{site.url}/ui/")


def test_the_main_path_from_search_to_audit(tab: Watched, site: websites.Site) -> None:
    page = tab.page
    sign_in(tab, site, site.owner)
    shot(page, "tools")
    page.get_by_role("searchbox", name="Search").fill("csv aligned")
    page.get_by_role("button", name="Search").click()
    assert page.locator("table.tools tbody tr").count() == 1
    shot(page, "search")
    page.get_by_role("link", name="fmt", exact=True).click()
    assert page.get_by_role("heading", name="fmt").is_visible()
    assert page.get_by_text("stable → v2").is_visible()
    shot(page, "tool")
    page.get_by_role("link", name="v2", exact=True).first.click()
    assert page.locator("#ref").input_value().startswith("fmt:2@sha256:")
    assert page.locator("table.code tr#L1").is_visible()
    assert page.locator("table.code .hl-kn").count() > 0  # Pygments: "import" highlighted
    assert page.get_by_role("link", name="csvsum:1").is_visible()  # referenced by
    shot(page, "version")
    page.get_by_role("link", name="Diff with v1").click()
    assert page.locator("table.diff ins").count() > 0 and page.locator("table.diff del").count() > 0
    shot(page, "diff-unified")
    page.get_by_role("link", name="Side by side").click()
    assert page.locator("table.diff.split tr.chg").count() == 2  # two lines changed
    shot(page, "diff-split")
    page.get_by_role("link", name="Whole file").click()
    assert page.locator("table.diff.split tr").count() > 10
    page.go_back()
    page.go_back()
    page.go_back()
    page.get_by_role("link", name="Lineage").click()
    assert page.locator(".graph svg").count() == 1  # fmt:2 references nothing: descendants only
    assert page.locator(".graph svg a").count() >= 2
    shot(page, "lineage")
    page.get_by_role("link", name="Audit").click()
    assert page.get_by_text("The chain holds").is_visible()
    page.get_by_role("button", name="Run verify now").click()
    assert page.get_by_text("No problems.").is_visible()
    shot(page, "audit")
    tab.inert()


def test_sign_in_label_a_version_see_the_label_then_sign_out(
    tab: Watched, site: websites.Site
) -> None:
    page = tab.page
    sign_in(tab, site, site.owner)
    assert page.locator("header .me").inner_text() == "alice"
    page.goto(f"{site.url}/ui/tools/csvsum")
    form = page.locator("form", has=page.get_by_role("button", name="Set label"))
    form.get_by_label("Version").select_option("1")
    form.get_by_label("Label").fill("prod")
    form.get_by_role("button", name="Set label").click()
    assert page.get_by_text("The label is set.").is_visible()
    assert page.locator("h1 .tag", has_text="prod").is_visible()  # on the version's page
    shot(page, "labelled")
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{site.url}/ui/tools/csvsum")
    assert page.get_by_role("heading", name="Sign in").is_visible()  # the cookie is gone
    assert page.context.cookies() == []
    tab.inert()


def test_a_read_only_token_sees_no_write_controls_and_forged_forms_are_refused(
    tab: Watched, site: websites.Site
) -> None:
    page = tab.page
    sign_in(tab, site, site.reader)
    assert page.locator("header .me").inner_text() == "reader read-only"
    for path in ("/ui/tools/fmt", "/ui/tools/fmt/2"):
        page.goto(site.url + path)
        assert page.locator("form[method=post]").count() == 1  # sign out, nothing else
        assert page.get_by_role("button", name="Set label").count() == 0
    shot(page, "read-only")
    # Forms sent from elsewhere, with the session's cookie: none, a wrong CSRF token, and
    # the right one (refused by the service: the token is read-only).
    label = f"{site.url}/ui/tools/fmt/label"
    csrf = page.evaluate("document.querySelector('input[name=csrf]').value")
    for fields, status in (
        ({"version": "2", "label": "forged"}, 403),
        ({"version": "2", "label": "forged", "csrf": "0" * 64}, 403),
        ({"version": "2", "label": "forged", "csrf": csrf}, 403),
    ):
        answer = page.request.post(label, form=fields, max_redirects=0)
        assert answer.status == status, answer.text()
    assert "read-only" in answer.text()
    page.goto(f"{site.url}/ui/tools/fmt")
    assert page.get_by_text("forged").count() == 0


def test_bob_may_read_but_not_label_alices_tool(tab: Watched, site: websites.Site) -> None:
    page = tab.page
    sign_in(tab, site, site.other)
    page.goto(f"{site.url}/ui/tools/fmt")
    assert page.get_by_role("button", name="Set label").count() == 0
    csrf = page.evaluate("document.querySelector('input[name=csrf]').value")
    answer = page.request.post(
        f"{site.url}/ui/tools/fmt/label",
        form={"version": "2", "label": "bobs", "csrf": csrf},
        max_redirects=0,
    )
    assert answer.status == 403 and "owned by alice" in answer.text()


def _tab_to(page: Any, text: str, limit: int = 80) -> None:
    """Press Tab until the focused element's text or label is ``text``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(document.activeElement.innerText || document.activeElement.getAttribute('aria-label')"
            " || document.activeElement.name || '').trim()"
        )
        if focused == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_the_main_path_by_keyboard_alone(tab: Watched, site: websites.Site) -> None:
    page = tab.page
    page.goto(f"{site.url}/ui/")
    _tab_to(page, "token")
    page.keyboard.type(site.owner)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/ui/")
    _tab_to(page, "q")
    page.keyboard.type("csvsum")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/?q=csvsum*")
    _tab_to(page, "csvsum")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/tools/csvsum")
    _tab_to(page, "v1")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/tools/csvsum/1")
    _tab_to(page, "Lineage")
    page.keyboard.press("Enter")
    page.wait_for_url("**/lineage")
    _tab_to(page, "Audit")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/audit")
    focus = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focus in ("solid", "auto") or page.evaluate("document.activeElement === document.body")
    tab.inert()


HOSTILE_PAGES = {
    "hostile-tools": "/ui/?q=evil",
    "hostile-tool": "/ui/tools/evil",
    "hostile-version": "/ui/tools/evil/1",
    "hostile-latest": "/ui/tools/evil/2",
    "hostile-diff": "/ui/diff?old=evil:1&new=evil:2&view=split&only=0",
    "hostile-lineage": "/ui/tools/evil/2/lineage",
    "hostile-owner": "/ui/tools/evil-owner/1",
    "hostile-audit": "/ui/audit?tool=evil",
}


@pytest.mark.parametrize("width", [1280, 390])
def test_hostile_content_stays_inert_and_laid_out(
    chromium: Any, site: websites.Site, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    tab = Watched(context.new_page())
    sign_in(tab, site, site.owner)
    for name, path in HOSTILE_PAGES.items():  # SCRIPT, IMG, LINK, LONG in every field
        tab.page.goto(site.url + path)
        assert tab.page.locator("main h1").count() == 1, path
        assert tab.page.locator("main img, main script, main iframe").count() == 0, path
        assert tab.page.locator("a[href^='javascript:' i]").count() == 0, path
        shot(tab.page, f"{name}-{width}")
        tab.laid_out()
    tab.inert()
    context.close()


def test_phone_screenshots(chromium: Any, site: websites.Site) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = Watched(context.new_page())
    sign_in(tab, site, site.owner)
    for name, path in {
        "phone-tools": "/ui/",
        "phone-tool": "/ui/tools/fmt",
        "phone-version": "/ui/tools/fmt/3",
        "phone-diff": "/ui/diff?old=fmt:1&new=fmt:3",
        "phone-lineage": "/ui/tools/csvsum/1/lineage",
        "phone-audit": "/ui/audit",
    }.items():
        tab.page.goto(site.url + path)
        tab.laid_out()
        shot(tab.page, name)
    tab.inert()
    context.close()


def test_the_audit_log_pages_filters_and_shows_the_last_verify_of_the_api(
    tab: Watched, site: websites.Site
) -> None:
    import httpx

    from toolvault import NewVersion, Vault

    with Vault.open(site.home) as vault:  # more than a page of entries (100 a page)
        vault.publish_many(
            [
                NewVersion(f"busy{i:03d}", f"#!/bin/sh\necho {i}\n", owner="alice")
                for i in range(105)
            ]
        )
        newest = vault.audit()[-1].seq
    answer = httpx.get(f"{site.url}/v1/verify", headers={"Authorization": f"Bearer {site.reader}"})
    assert answer.status_code == 200 and answer.json()["ok"] is True
    page = tab.page
    sign_in(tab, site, site.owner)
    page.get_by_role("link", name="Audit").click()
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 100 and rows.first.locator("td").first.inner_text() == str(newest)
    card = page.locator("#verify")  # the report of the API's verify, by its principal
    assert card.get_by_text("No problems.").is_visible() and "by reader" in card.inner_text()
    page.get_by_role("link", name="Next").click()
    page.wait_for_url("**/ui/audit?*page=2*")
    assert rows.first.locator("td").first.inner_text() == str(newest - 100)
    page.get_by_label("Action").select_option("label")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/ui/audit?*action=label*")
    actions = rows.locator("td:nth-child(4)").all_inner_texts()
    assert actions and set(actions) == {"label"}
    shot(page, "audit-paged")
    tab.inert()
