"""MLflow's UI through the gateway in a real browser (issue 15, item 4).

Run by infra/local/e2e (TestMLflowUIInABrowser): headless Chromium (Debian's `chromium`, at
E2E_CHROMIUM) driven by Playwright. The test made the data through the API and passes what to look
for as JSON in E2E_BROWSER_SPEC: the gateway's URL, user A's and user B's keys, A's experiment, run
(with its parameters), registered model (versions and aliases), B's experiment, and the folder for
the screenshots. Each check that fails is recorded and the script goes on, so one broken page does
not hide the others; it prints one E2E_RESULT line: ok (it ran to the end), the failures, the pages
visited with their screenshots, and every Content-Security-Policy violation the DevTools console
reported. The test judges them.

Synchronisation is on what the page shows (a locator waited for with a long timeout), never on a
sleep: a slow machine makes the script slower, not red.
"""

import json
import os
import re
import sys
import urllib.parse
import urllib.request

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

SPEC = json.loads(os.environ["E2E_BROWSER_SPEC"])
GW = SPEC["gateway"]
SHOTS = SPEC["screenshots"]
# Generous: the first load of MLflow's bundle on a busy two-core machine takes a while.
WAIT_MS = 120_000

result = {"ok": False, "error": "", "failures": [], "pages": [], "csp_violations": [], "console_errors": [], "failed_requests": []}
CSP = re.compile(r"Content.Security.Policy", re.I)


def fail(what):
    result["failures"].append(what)


def new_page(browser, who):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(WAIT_MS)
    ctx.set_default_navigation_timeout(WAIT_MS)
    page = ctx.new_page()

    def on_console(msg):
        text = msg.text
        if CSP.search(text):
            result["csp_violations"].append({"user": who, "url": page.url, "text": text})
        elif msg.type == "error":
            result["console_errors"].append({"user": who, "url": page.url, "text": text[:500]})

    page.on("console", on_console)
    # The console's "Failed to load resource" names no URL; the responses do (the path only: a
    # query may hold ids, never a secret, but the path is what tells which route answered).
    def on_response(res):
        if res.status >= 400:
            path = urllib.parse.urlsplit(res.url).path
            result["failed_requests"].append({"user": who, "status": res.status, "method": res.request.method, "path": path})

    page.on("response", on_response)
    return page


def shot(page, name, who):
    """Screenshots the page once it has settled, and records it as visited."""
    try:
        # MLflow polls some views; idle is a best effort, what the checks wait for is the content.
        page.wait_for_load_state("networkidle", timeout=10_000)
    except PlaywrightError:
        pass
    path = os.path.join(SHOTS, f"{len(result['pages']) + 1:02d}-{who}-{name}.png")
    page.screenshot(path=path, full_page=True)
    result["pages"].append({"user": who, "name": name, "url": page.url, "screenshot": path})


# What MLflow's pages show when a load fails: waiting for the expected text OR one of these ends
# the wait as soon as the page has decided, so a broken page fails fast and says what it showed.
MLFLOW_ERROR = re.compile(
    r"load error|Can't load|not successful|Permission denied|You do not have permission|Page not found|does not exist",
    re.I,
)


def expect_text(page, what, text, exact=False):
    """Waits until text, or an MLflow error, is shown; records a failure unless it is text."""
    want = page.get_by_text(text, exact=exact)
    try:
        want.or_(page.get_by_text(MLFLOW_ERROR)).first.wait_for(state="visible")
    except PlaywrightError as e:
        fail(f"{what}: {text!r} not shown at {page.url}: {str(e).splitlines()[0]}")
        return False
    if want.first.is_visible():
        return True
    shown = page.get_by_text(MLFLOW_ERROR).first.inner_text()[:300]
    fail(f"{what}: {text!r} not shown at {page.url}; the page shows {shown!r}")
    return False


def sign_in_with_key(page, mount, key, who):
    page.goto(f"{GW}/{mount}signin")
    page.locator("#signin-key").wait_for(state="visible")
    shot(page, "signin-page", who)
    page.fill("#signin-key", key)
    with page.expect_navigation(url=f"{GW}/{mount}"):
        page.click("#signin-submit")
    page.locator("#root").wait_for(state="attached")


def mint_link(key, mount):
    """What a CLI does: POST /api/ui/signin-links with the key, get back a one-time URL."""
    req = urllib.request.Request(
        f"{GW}/api/ui/signin-links",
        data=json.dumps({"mount": mount.rstrip("/")}).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as res:
        return json.load(res)["url"]


def user_a(browser):
    a = SPEC["a"]
    mount = "api/mlflow/"
    page = new_page(browser, "A")
    sign_in_with_key(page, mount, SPEC["key_a"], "A")
    ui = f"{GW}/{mount}#"

    page.goto(f"{ui}/experiments")
    expect_text(page, "A's experiment list", a["experiment_name"])
    shot(page, "experiments-list", "A")

    page.goto(f"{ui}/experiments/{a['experiment_id']}")
    # MLflow 3.17 opens an experiment on its overview (GenAI usage), which names the experiment; its
    # runs are checked on the run page below.
    expect_text(page, "A's experiment page", a["experiment_name"])
    shot(page, "experiment", "A")

    # The run page reads its run through MLflow's GraphQL endpoint (mlflowGetRun).
    page.goto(f"{ui}/experiments/{a['experiment_id']}/runs/{a['run_id']}")
    expect_text(page, "A's run page", a["run_name"])
    for k, v in a["params"].items():
        expect_text(page, "A's run page, parameter name", k, exact=True)
        expect_text(page, "A's run page, parameter value", v, exact=True)
    shot(page, "run", "A")

    page.goto(f"{ui}/models/{a['model_name']}")
    expect_text(page, "A's registered model page", a["model_name"])
    for v in a["versions"]:
        expect_text(page, "A's registered model page, a version", f"Version {v}", exact=True)
    for alias in a["aliases"]:
        expect_text(page, "A's registered model page, an alias", alias)
    shot(page, "registered-model", "A")

    alias, version = next(iter(a["aliases"].items()))
    page.goto(f"{ui}/models/{a['model_name']}/versions/{version}")
    expect_text(page, "A's model version page", f"Version {version}")
    expect_text(page, "A's model version page, its alias", alias)
    shot(page, "model-version", "A")
    page.context.close()


def user_a_link_and_signout(browser):
    """A signs in through a CLI-minted link under /mlflow/, then signs out; the session is over."""
    a = SPEC["a"]
    mount = "mlflow/"
    page = new_page(browser, "A-link")
    link = mint_link(SPEC["key_a"], mount)
    page.goto(link)
    if page.url != f"{GW}/{mount}":
        fail(f"the sign-in link led to {page.url}, want {GW}/{mount}")
    page.goto(f"{GW}/{mount}#/experiments/{a['experiment_id']}")
    expect_text(page, "A's experiment page after the link", a["experiment_name"])
    shot(page, "experiment-via-link", "A-link")

    # Sign-out as the UI's own origin would send it: a same-origin fetch from the page.
    status = page.evaluate("async () => (await fetch('../api/ui/signout', {method: 'POST'})).status")
    if status != 200:
        fail(f"sign-out answered {status}")
    if any(c["name"] == SPEC["cookie_name"] for c in page.context.cookies()):
        fail("the session cookie is still set after sign-out")
    res = page.reload()
    shown_signin = page.url.rstrip("/").endswith("/signin") or page.locator("#signin-form").count() > 0
    if not (res is not None and res.status == 401 or shown_signin):
        fail(f"reloading after sign-out answered {res.status if res else None} at {page.url}, want 401 or the sign-in page")
    shot(page, "after-signout", "A-link")
    got = page.context.request.get(f"{GW}/{mount}ajax-api/2.0/mlflow/experiments/get?experiment_id={a['experiment_id']}")
    if got.status != 401:
        fail(f"a data call after sign-out answered {got.status}")
    page.context.close()


def user_b(browser):
    a, b = SPEC["a"], SPEC["b"]
    mount = "api/mlflow/"
    page = new_page(browser, "B")
    sign_in_with_key(page, mount, SPEC["key_b"], "B")
    ui = f"{GW}/{mount}#"

    page.goto(f"{ui}/experiments")
    # Wait for B's own experiment: the list has loaded, so A's absence means something.
    if expect_text(page, "B's experiment list", b["experiment_name"]):
        if page.get_by_text(a["experiment_name"]).count() != 0:
            fail("B's experiment list shows A's private experiment")
    shot(page, "experiments-list", "B")

    page.goto(f"{ui}/experiments/{a['experiment_id']}")
    # The gateway refuses the page's GraphQL read with 403 PERMISSION_DENIED; MLflow's UI shows a
    # refused GraphQL read as "Experiment load error: … status code 403".
    expect_text(page, "B opening A's experiment", re.compile(r"permission|status code 403", re.I))
    if page.get_by_text(a["experiment_name"]).count() != 0:
        fail("B's view of A's experiment shows its name")
    shot(page, "private-experiment", "B")
    page.context.close()


def main():
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as p:
        # Debian's Chromium: Playwright's own browser download is not used. Running as root needs no
        # sandbox flag of ours: Playwright launches Chromium without its sandbox unless asked.
        browser = p.chromium.launch(executable_path=os.environ["E2E_CHROMIUM"], headless=True)
        try:
            for scenario in (user_a, user_a_link_and_signout, user_b):
                try:
                    scenario(browser)
                except PlaywrightError as e:
                    fail(f"{scenario.__name__}: {e}")
        finally:
            browser.close()
    result["ok"] = True


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the result line must say what broke
        result["error"] = f"{type(e).__name__}: {e}"
    print("E2E_RESULT " + json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
