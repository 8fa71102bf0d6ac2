#!/usr/bin/env python3
"""Open a rendered report page (optimizer's HTML report) in headless Chromium and check that it is
self-contained and clean:

  - no console message of level error or warning, and no uncaught page error;
  - no request other than the page's own file:// URL (data: URLs count as requests: none allowed);
  - the page has a non-zero height.

Writes a full-page PNG screenshot to OUT_DIR/report.png and prints one JSON line
  {"console_errors": [...], "requests": [...], "height": N, "screenshot": "...", "failures": [...]}
("requests" lists every request the page made, its own file included; "failures" says what failed).
Exits 0 when every check passes, 1 on any failure (a browser that cannot start included).

Drives the system Chromium (Debian's `chromium`, /usr/bin/chromium, or $CHROMIUM) with Python's
`playwright` package; the browsers that `playwright install` would download are not used. Runs as
root (--no-sandbox) without network: the browser context is offline and every request that is not
the page itself is aborted after being recorded, so nothing leaves the machine.

Needs: apt-get install -y chromium; python3 -m pip install playwright.

Usage: scripts/check_report.py HTML_FILE OUT_DIR
"""

import json
import os
import sys
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium's own background traffic (updates, safe browsing, metrics) off; GPU off (headless).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]
VIEWPORT = {"width": 1200, "height": 900}
TIMEOUT_MS = 60_000
# Time after `load` for late console messages and requests.
SETTLE_MS = 500


def check(html_file: Path, out_dir: Path) -> dict:
    from playwright.sync_api import sync_playwright

    page_url = html_file.resolve().as_uri()
    screenshot = out_dir.resolve() / "report.png"
    console, requests, failures = [], [], []
    height = 0

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True,
                                    timeout=TIMEOUT_MS)
        try:
            context = browser.new_context(viewport=VIEWPORT, offline=True,
                                          service_workers="block")
            page = context.new_page()

            def on_console(msg):
                if msg.type in ("error", "warning"):
                    loc = msg.location or {}
                    where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
                    console.append(f"{msg.type}: {msg.text}{where}")

            def on_route(route):
                # Only the page itself is served; anything else is recorded (by on_request) and
                # refused here, so no request reaches a network.
                if route.request.url == page_url:
                    route.continue_()
                else:
                    route.abort("blockedbyclient")

            page.on("console", on_console)
            page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
            context.route("**/*", on_route)
            # Requests as DevTools' network panel lists them: Playwright's own request event
            # leaves data: URLs out, the protocol's Network.requestWillBeSent does not.
            cdp = context.new_cdp_session(page)
            cdp.on("Network.requestWillBeSent", lambda e: requests.append(e["request"]["url"]))
            cdp.send("Network.enable")

            page.goto(page_url, wait_until="load", timeout=TIMEOUT_MS)
            page.wait_for_timeout(SETTLE_MS)
            # The height of what the page lays out (not the viewport's): 0 for an empty body.
            height = int(page.evaluate(
                "Math.ceil(Math.max(document.documentElement.getBoundingClientRect().height,"
                " document.body ? document.body.getBoundingClientRect().height : 0))"))
            out_dir.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True, timeout=TIMEOUT_MS)
        finally:
            browser.close()

    if console:
        failures.append(f"{len(console)} console error(s), warning(s) or page error(s)")
    others = [u for u in requests if u != page_url]
    if others:
        failures.append(f"{len(others)} request(s) other than the page itself")
    if page_url not in requests:
        failures.append("the page itself was never requested")
    if height <= 0:
        failures.append("the page has no height")
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        failures.append("no screenshot written")
    return {"console_errors": console, "requests": requests, "height": height,
            "screenshot": str(screenshot), "failures": failures}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 1
    html_file, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        if not html_file.is_file():
            raise FileNotFoundError(f"{html_file}: no such file")
        result = check(html_file, out_dir)
    except Exception as e:  # noqa: BLE001 - any failure to run the check is a failed check
        result = {"console_errors": [], "requests": [], "height": 0, "screenshot": None,
                  "failures": [f"{type(e).__name__}: {e}"]}
    print(json.dumps(result))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
