"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against
the served API with real workers, beat, Redis and the sandbox: sign in, start a run from the page
and watch its progress bar reach the end, open a failed and an invalid item, cancel a slow run,
pause a connection, and see that a read-only token gets no buttons and no token gets nothing.

Screenshots of each page go to ``test-artifacts/dashboard/`` (git-ignored; CI keeps them).
The browser is the system's: ``playwright install`` would download one from a CDN. If it is
missing, the set-up installs it with apt when it runs as root, and otherwise fails: a browser
test that silently skips proves nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from coursesync.sample import write_sample
from tests.integration.conftest import Pipeline, kombo_config, serve_folder

#: The first test may install chromium with apt before it starts (a few minutes on a slow mirror).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
#: Narrow enough to be a phone held upright: the layout must read there too.
NARROW = {"width": 390, "height": 844}


def _config(url: str) -> str:
    # A second connection whose own cap (12 requests a minute, 10 items a batch) keeps a
    # 1,000-item run going for minutes: long enough to cancel it from the page.
    slow = kombo_config(url, batch_size=10, max_requests_per_minute=12).replace("it-kombo", "slow-kombo")
    # A schedule that never fires during a test (3:00 on New Year's Day), for its card to show.
    schedule = '[connections.slow-kombo.schedule]\nsource = "/nonexistent.jsonl"\ncron = "0 3 1 1 *"\n'
    return kombo_config(url) + slow + schedule


def chromium_path() -> str:
    """Debian's chromium, installed now if missing and we may; else the test fails, saying why."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(
            ["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            done = subprocess.run(
                ["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True
            )
        found = shutil.which("chromium")
        if found:
            return found
        pytest.fail(
            f"the dashboard tests need Debian's chromium; apt-get install failed:\n{done.stderr[-2000:]}"
        )
    pytest.fail("the dashboard tests need Debian's chromium: run `apt-get install -y chromium` (as root)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the dashboard tests need the playwright package (pip install -e '.[dev]')")
    path = chromium_path()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def served(
    start_pipeline: Callable[..., Pipeline], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    catalogs = tmp_path_factory.mktemp("catalogs")
    pipeline = start_pipeline(config=_config, env={"COURSESYNC_CATALOG_DIR": str(catalogs / "uploads")})
    base = pipeline.stack.start_api()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve_folder(catalogs) as url:
        yield pipeline, base, catalogs, url


@pytest.fixture(scope="module")
def tokens(served: Any) -> dict[str, str]:
    pipeline, _, _, _ = served
    with pytest.MonkeyPatch.context() as mp:
        r = pipeline.use(mp)
        from api.tokens import create_token

        return {
            "writer": create_token(r, name="ops", scopes=["write"], connections=["*"])[0],
            "reader": create_token(r, name="customer-success", scopes=["read"], connections=["*"])[0],
        }


@pytest.fixture
def page(browser: Any, served: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"the page threw: {errors}"


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(base + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Sections").wait_for()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_nothing_is_shown_without_a_token_and_a_wrong_one_is_refused(page: Any, served: Any) -> None:
    _, base, _, _ = served
    page.goto(base + "/")
    expect = _expect()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Sections")).to_be_hidden()
    assert page.locator("#view").inner_text() == ""
    page.get_by_label("API token").fill("cs_nope_nope")
    page.keyboard.press("Enter")  # the form works from the keyboard
    expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    shot(page, "sign-in")
    # The page itself carries no data and a strict policy; the data needs the token.
    answer = httpx.get(base + "/")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert httpx.get(base + "/v1/runs").status_code == 401


def test_a_run_started_from_the_page_reaches_the_end_and_its_failures_show_field_and_reason(
    page: Any, served: Any, tokens: dict[str, str]
) -> None:
    _, base, catalogs, catalog_url = served
    counts = write_sample(catalogs / "page.jsonl", 600, prefix="page")
    expect = _expect()
    sign_in(page, base, tokens["writer"])
    # Given the start form, opened and filled from the page
    page.get_by_text("Start a run", exact=True).first.click()
    page.get_by_label("Connection", exact=True).first.fill("it-kombo")
    page.get_by_label("Catalog URL").fill(f"{catalog_url}/page.jsonl")
    page.get_by_role("button", name="Start run").click()
    # When the run page opens, its progress bar moves until every item is settled
    page.wait_for_url(re.compile(r"#/runs/r_"))
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=150_000)
    expect(page.locator("h1 .badge")).to_have_text("completed with errors")
    run_id = page.url.rsplit("/", 1)[-1]
    doc = httpx.get(
        f"{base}/v1/runs/{run_id}", headers={"Authorization": f"Bearer {tokens['writer']}"}
    ).json()
    assert (doc["counts"]["succeeded"], doc["counts"]["failed"]) == (counts.succeeded, counts.rejected)
    expect(page.get_by_role("img", name=re.compile(r"^Timeline"))).to_be_visible()
    timeline = httpx.get(
        f"{base}/v1/runs/{run_id}/timeline", headers={"Authorization": f"Bearer {tokens['writer']}"}
    )
    points = timeline.json()["points"]
    assert sum(p["succeeded"] for p in points) == counts.succeeded
    assert sum(p["requests"] for p in points) >= 3  # a submit per batch (and polls), sent by the workers
    # Then a failed item opens with its code and reason
    page.locator("#items-title").wait_for()
    page.get_by_role("table").last.get_by_role("button").first.click()
    detail = page.locator("#item-detail")
    expect(detail).to_be_focused()
    expect(detail.locator("dt", has_text="Code")).to_be_visible()
    assert detail.locator("dd").nth(3).inner_text().strip()  # the reason
    expect(page.get_by_role("button", name=re.compile(r"Retry \d+ failed items"))).to_be_visible()
    shot(page, "run")
    # and an invalid item with its field and reason
    page.get_by_role("link", name="invalid items").click()
    expect(page.get_by_role("heading", name="Invalid items")).to_be_visible()
    rows = page.get_by_role("table").last.locator("tbody tr")
    rows.first.wait_for()
    with_field = next(i for i in range(rows.count()) if rows.nth(i).locator("td").nth(1).inner_text() != "—")
    rows.nth(with_field).get_by_role("button").click()
    detail = page.locator("#item-detail")
    field = detail.locator("dd").nth(1).inner_text()
    assert field not in ("", "—"), "an invalid item names its field"
    shot(page, "run-invalid-item")
    # and the runs list shows it done, the failures page counts its reasons
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.locator(f'[role=progressbar][data-run="{run_id}"]')).to_have_attribute("aria-valuenow", "100")
    shot(page, "runs")
    page.get_by_role("link", name="Failures", exact=True).click()
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows.first).to_contain_text(str(counts.rejected))
    shot(page, "failures")
    # following a reason lists only its items
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_text("Only items with reason")).to_be_visible()
    page.set_viewport_size(NARROW)
    shot(page, "run-narrow")
    # and the retry button starts a run of the failed items, which the page follows
    page.get_by_role("button", name=re.compile(r"Retry \d+ failed items")).click()
    page.wait_for_url(re.compile(r"#/runs/r_(?!" + run_id[2:] + ")"))
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100", timeout=120_000)


def test_a_slow_run_is_cancelled_from_its_page(page: Any, served: Any, tokens: dict[str, str]) -> None:
    _, base, catalogs, catalog_url = served
    write_sample(catalogs / "slow.jsonl", 1000, prefix="slow", invalid_every=1000, rejected_every=1000)
    expect = _expect()
    sign_in(page, base, tokens["writer"])
    page.get_by_text("Start a run", exact=True).first.click()
    page.get_by_label("Connection", exact=True).first.fill("slow-kombo")
    page.get_by_label("Catalog URL").fill(f"{catalog_url}/slow.jsonl")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"#/runs/r_"))
    # Once its first batch came back (1%), with 99 batches to go at 12 requests a minute
    expect(page.get_by_role("progressbar")).not_to_have_attribute("aria-valuenow", "0", timeout=60_000)
    expect(page.locator("h1 .badge")).to_have_text("running")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("h1 .badge")).to_have_text("cancelled", timeout=60_000)
    # Then what was never sent failed as cancelled, and its reason leads to those items
    run_id = page.url.rsplit("/", 1)[-1]
    auth = {"Authorization": f"Bearer {tokens['writer']}"}
    doc = httpx.get(f"{base}/v1/runs/{run_id}", headers=auth).json()
    assert doc["counts"]["succeeded"] < 500 and doc["counts"]["failed"] > 500, doc["counts"]
    reasons = httpx.get(f"{base}/v1/failures", params={"connection": "slow-kombo"}, headers=auth).json()[
        "reasons"
    ]
    # (never sent: batched, failed by the cancel; or read, never batched, failed at the seal)
    assert (
        sum(f["count"] for f in reasons if f["code"] == "coursesync.CANCELLED") == doc["counts"]["failed"]
    ), (
        [(f["stage"], f["code"], f["count"]) for f in reasons],
        doc["counts"],
    )
    expect(page.get_by_role("table").last.locator("tbody tr").first).to_contain_text("coursesync.CANCELLED")
    shot(page, "run-cancelled")


def test_a_connection_is_paused_and_resumed_from_the_connections_page(
    page: Any, served: Any, tokens: dict[str, str]
) -> None:
    _, base, _, _ = served
    expect = _expect()
    sign_in(page, base, tokens["writer"])
    page.get_by_role("link", name="Connections", exact=True).click()
    card = page.locator('article[data-connection="it-kombo"]')
    expect(card.get_by_role("heading", name=re.compile("it-kombo"))).to_contain_text("active")
    expect(card.get_by_text("Limit")).to_be_visible()
    card.get_by_role("button", name="Pause").click()
    expect(card.get_by_role("heading", name=re.compile("it-kombo"))).to_contain_text("paused")
    shot(page, "connections")
    card.get_by_role("button", name="Resume").click()
    expect(card.get_by_role("heading", name=re.compile("it-kombo"))).to_contain_text("active")
    slow = page.locator('article[data-connection="slow-kombo"]')
    expect(slow.get_by_text("0 3 1 1 *")).to_be_visible()
    expect(slow.locator("dt", has_text="Next due")).to_be_visible()


def test_a_read_only_token_sees_everything_and_no_button_that_acts(
    page: Any, served: Any, tokens: dict[str, str]
) -> None:
    _, base, _, _ = served
    expect = _expect()
    # Signing in takes only the keyboard: the token field has the focus when the page opens
    page.goto(base + "/")
    page.keyboard.type(tokens["reader"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    expect(page.get_by_role("progressbar").first).to_be_visible()
    expect(page.get_by_text("Start a run")).to_have_count(0)
    page.locator("tbody tr a").first.click()
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Cancel|Retry"))).to_have_count(0)
    page.get_by_role("link", name="Connections", exact=True).click()
    expect(page.locator("article").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^(Pause|Resume)$"))).to_have_count(0)
    # Signing out forgets the token: nothing is shown until signing in again
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(base + "/#/connections")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    return expect
