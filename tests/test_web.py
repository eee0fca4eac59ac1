"""The web UI over HTTP, without a browser: a real ``toolvault serve`` on 127.0.0.1 and an
HTTP client, for what a browser hides (headers, cookies' attributes, status codes, forms
sent from elsewhere); and the service calls the pages rest on, over both stores."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

import websites
from toolvault import Vault
from toolvault.errors import InvalidInput

PAGES = ["/ui/", "/ui/?q=csv", "/ui/tools/fmt", "/ui/tools/fmt/2", "/ui/diff?old=fmt:1&new=fmt:2",
         "/ui/tools/fmt/2/lineage", "/ui/audit", "/ui/signin"]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[websites.Site]:
    found = websites.start(tmp_path_factory.mktemp("webhttp") / "home")
    yield found
    found.daemon.stop()


OPENED: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _closed() -> Iterator[None]:
    """Every client a test opened is closed after it."""
    yield
    while OPENED:
        OPENED.pop().close()


def client(site: websites.Site, token: str | None = None) -> httpx.Client:
    """An HTTP client, signed in with ``token`` through the sign-in form."""
    http = httpx.Client(base_url=site.url, timeout=30, follow_redirects=False)
    OPENED.append(http)
    if token:
        answer = http.post("/ui/signin", data={"token": token, "next": "/ui/tools/fmt"})
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/tools/fmt"
    return http


class Elements(HTMLParser):
    """What an HTML page would run or load: its scripts, event handler attributes, and
    every URL it links to or loads."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))
        self.handlers += [k for k, _ in attrs if k.startswith("on")]
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "xlink:href")]


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found, "no CSRF token on the page"
    return found[1]


def test_every_page_carries_the_security_headers(site: websites.Site) -> None:
    http = client(site, site.owner)
    for path in [*PAGES, "/ui/static/style.css", "/ui/tools/fmt/2/raw", "/ui/nowhere"]:
        answer = http.get(path)
        assert answer.status_code == (404 if path == "/ui/nowhere" else 200), path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        if answer.headers["content-type"].startswith("text/html"):
            elements = Elements()
            elements.feed(answer.text)
            assert elements.scripts == ["/ui/static/ui.js"], path  # ours, and no other
            assert elements.handlers == [], path  # no onerror=, onclick=…
            assert not [u for u in elements.urls if not u.startswith(("/ui/", "#"))], path


def test_raw_content_is_a_plain_text_download(site: websites.Site) -> None:
    answer = client(site, site.owner).get("/ui/tools/evil/2/raw")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="evil-2"'
    assert websites.SCRIPT.encode() in answer.content  # as published, never as a page


def test_the_pages_are_in_no_openapi_document(site: websites.Site) -> None:
    http = client(site)
    assert http.get("/ui/").status_code == 303  # the pages are there (sign in first)…
    schema = http.get("/openapi.json").json()  # …and in no OpenAPI document
    assert not [p for p in schema["paths"] if p.startswith("/ui") or p == "/"]


def test_without_a_session_a_page_sends_to_the_sign_in_form(site: websites.Site) -> None:
    http = client(site)
    assert http.get("/").headers["location"] == "/ui/"
    answer = http.get("/ui/tools/fmt/2?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/signin?next=%2Fui%2Ftools%2Ffmt%2F2%3Fx%3D1"
    bad = http.post("/ui/signin", data={"token": "tv_not-a-token"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    assert "set-cookie" not in bad.headers
    away = http.post("/ui/signin", data={"token": site.owner, "next": "//evil.example/x"})
    assert away.headers["location"] == "/ui/"  # never back to another host


def test_the_session_cookie_is_httponly_strict_and_scoped(site: websites.Site) -> None:
    http = client(site)
    answer = http.post("/ui/signin", data={"token": site.owner})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS it is Secure
    out = http.post("/ui/signout", data={"csrf": "x"})
    assert out.status_code == 303 and 'toolvault_session=""' in out.headers["set-cookie"]


def test_forms_without_the_session_token_or_from_another_site_are_refused(
    site: websites.Site,
) -> None:
    http = client(site, site.owner)
    token = csrf(http.get("/ui/tools/fmt"))
    form = {"version": "3", "label": "candidate"}
    for fields, headers in (
        (form, {}),
        ({**form, "csrf": "f" * 64}, {}),
        ({**form, "csrf": token[:-1]}, {}),
        ({**form, "csrf": token}, {"origin": "https://evil.example"}),
        ({**form, "csrf": token}, {"sec-fetch-site": "cross-site"}),
    ):
        refused = http.post("/ui/tools/fmt/label", data=fields, headers=headers)
        assert refused.status_code == 403, (fields, headers)
    with Vault.open(site.home) as vault:
        assert "candidate" not in [lb.label for lb in vault.labels("fmt")]
    done = http.post("/ui/tools/fmt/label", data={**form, "csrf": token})
    assert done.status_code == 303 and done.headers["location"] == "/ui/tools/fmt/3?done=labelled"
    with Vault.open(site.home) as vault:
        assert ("candidate", 3) in [(lb.label, lb.version) for lb in vault.labels("fmt")]


def test_a_principal_sees_the_controls_of_its_rights(site: websites.Site) -> None:
    owner, reader, other = (client(site, t) for t in (site.owner, site.reader, site.other))
    assert "Set label" in owner.get("/ui/tools/csvsum").text
    assert "Yank v1" in owner.get("/ui/tools/csvsum/1").text
    for http in (reader, other):
        assert "Set label" not in http.get("/ui/tools/csvsum").text
        assert "Yank v1" not in http.get("/ui/tools/csvsum/1").text
    with Vault.open(site.home) as vault:
        vault.grant("csvsum", "bob")
    assert "Set label" in other.get("/ui/tools/csvsum").text  # a maintainer labels…
    assert "Yank v1" not in other.get("/ui/tools/csvsum/1").text  # …and does not yank
    token = csrf(other.get("/ui/tools/csvsum/1"))
    refused = other.post("/ui/tools/csvsum/1/yank", data={"reason": "no", "csrf": token})
    assert refused.status_code == 403 and "only its owner or an admin" in refused.text


def test_writes_through_the_forms(site: websites.Site) -> None:
    http = client(site, site.owner)
    token = csrf(http.get("/ui/tools/oldtool"))
    back = http.post("/ui/tools/oldtool/deprecate", data={"lifecycle": "active", "csrf": token})
    assert back.headers["location"] == "/ui/tools/oldtool?done=active"
    again = http.post("/ui/tools/oldtool/rollback", data={"version": "1", "csrf": token})
    assert again.status_code == 409 or again.headers["location"].startswith("/ui/tools/oldtool/")
    yanked = http.post("/ui/tools/oldtool/1/yank", data={"reason": "", "csrf": token})
    assert yanked.status_code == 400 and "needs a reason" in yanked.text
    with Vault.open(site.home) as vault:
        assert vault.tool("oldtool").lifecycle == "active"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/ui/?page=0", 400), ("/ui/?page=x", 400), ("/ui/?lifecycle=gone", 400),
     ("/ui/?sort=size", 400), ('/ui/?q="open', 400), ("/ui/?q=ab", 400),
     ("/ui/tools/fmt/99", 404), ("/ui/tools/no-such", 404), ("/ui/tools/bad%20name", 400),
     ("/ui/diff?old=fmt:1&new=nope:1", 404), ("/ui/tools/fmt/1/lineage?depth=-1", 400),
     ("/ui/audit?page=0", 400), ("/ui/diff?view=3d&new=fmt:2", 400)],
)  # fmt: skip
def test_bad_requests_are_pages_that_say_what_is_wrong(
    site: websites.Site, path: str, status: int
) -> None:
    answer = client(site, site.owner).get(path)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert 'class="banner danger"' in answer.text


def test_public_read_shows_pages_to_anyone_and_no_write_control(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("public") / "home"
    site = websites.start(home, "--public-read")
    try:
        http = client(site)
        for path in PAGES:
            assert http.get(path).status_code == 200, path
        assert '<form method="post"' not in http.get("/ui/tools/fmt").text.replace("/ui/verify", "")
        refused = http.post("/ui/tools/fmt/label", data={"version": "2", "label": "anon"})
        assert refused.status_code == 401
    finally:
        site.daemon.stop()


# -- the service calls the pages rest on ----------------------------------------------------


def test_tool_pages_filter_sort_and_count(vault: Vault) -> None:
    for i in range(120):
        vault.publish(f"t{i:03d}", f"echo {i}\n", owner="ann" if i % 3 else "bob")
    vault.label("t005:1", "stable")
    vault.set_lifecycle("t007", "retired")
    page, total = vault.tool_page(offset=100, limit=50)
    assert total == 119 and len(page) == 19 and page[0].name == "t101"
    page, total = vault.tool_page(owner="bob", limit=5, sort="updated")
    assert total == 40 and [t.name for t in page] == ["t117", "t114", "t111", "t108", "t105"]
    assert [t.name for t in vault.tool_page(label="stable")[0]] == ["t005"]
    assert [t.name for t in vault.tool_page(lifecycle="retired")[0]] == ["t007"]
    assert vault.tool_page(lifecycle="all")[1] == 120
    for bad in ({"sort": "size"}, {"lifecycle": "gone"}, {"limit": 0}, {"offset": -1}):
        with pytest.raises(InvalidInput):
            vault.tool_page(**bad)  # type: ignore[arg-type]
    assert [t.name for t in vault.tools_named(["t002", "t001", "nope"])] == ["t001", "t002"]


def test_rights_follow_the_rules_of_every_write(vault: Vault) -> None:
    from toolvault.models import Principal

    vault.publish("fmt", "echo 1\n", owner="ann")
    everything = {
        "publish",
        "label",
        "rollback",
        "deprecate",
        "yank",
        "retire",
        "transfer",
        "grant",
    }
    assert vault.rights("fmt") == everything  # no daemon: the local user may do all
    ann, bob = (vault.as_principal(Principal(n)) for n in ("ann", "bob"))
    assert ann.rights("fmt") == everything
    assert bob.rights("fmt") == frozenset()
    vault.grant("fmt", "bob")
    assert bob.rights("fmt") == {"publish", "label", "rollback", "deprecate"}
    assert vault.as_principal(Principal("root", admin=True)).rights("fmt") == everything
    assert vault.as_principal(Principal("ann", read_only=True)).rights("fmt") == frozenset()


# -- the pieces the pages are laid out with -------------------------------------------------


def test_the_lineage_is_a_list_where_dot_is_missing(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolvault.web import graph

    base = vault.publish("base", "echo base\n", created_by=websites.SHORT)
    vault.publish("mid", "echo mid\n", references=(base.ref,))
    top = vault.publish("top", "echo top\n", references=("mid:1", "gone:1"), allow_dangling=True)
    found = vault.lineage(top.ref, "all")
    drawn = graph.svg(found)
    assert drawn is not None and drawn.startswith("<svg") and "<script" not in drawn
    assert "&lt;script&gt;" in drawn  # the hostile author, escaped by dot
    assert 'xlink:href="/ui/tools/mid/1/lineage"' in drawn
    monkeypatch.setenv("PATH", "")  # no dot: nothing drawn (a new graph: none kept)
    vault.publish("top", "echo top 2\n", references=("mid:1",))
    assert graph.svg(vault.lineage("top:2", "all")) is None
    listed = [(i.level, i.node.ref if i.node else i.stored, i.note) for i in graph.items(found)]
    assert listed == [
        (0, top.ref, ""),
        (1, vault.get("mid:1").ref, ""),
        (2, base.ref, ""),
        (1, "gone:1", "dangling"),
    ]


def test_a_diff_is_laid_out_with_changes_marked_within_lines() -> None:
    import difflib

    from toolvault.web.diffview import layout

    old = ["keep\n", "x = <b>1</b>\n", "gone\n"]
    new = ["keep\n", "x = <b>2</b>\n", "added\n", "more\n"]
    laid = layout(list(difflib.unified_diff(old, new, "a", "b", n=1)))
    assert (laid.added, laid.removed) == (3, 2)
    (hunk,) = laid.hunks
    kinds = [(r.kind, r.old and r.old.number, r.new and r.new.number) for r in hunk.split]
    assert kinds == [("ctx", 1, 1), ("chg", 2, 2), ("chg", 3, 3), ("add", None, 4)]
    changed = hunk.split[1]
    assert changed.old is not None and changed.new is not None
    assert changed.old.html == "x = &lt;b&gt;<del>1</del>&lt;/b&gt;"
    assert changed.new.html == "x = &lt;b&gt;<ins>2</ins>&lt;/b&gt;"
    assert [r.kind for r in hunk.unified] == ["ctx", "del", "del", "add", "add", "add"]
