"""The web app in a real browser: time from clicking Fit to the drawn result, and the screenshots
of the documentation (docs/_static/app/*.png).

Starts ``respdor app --no-browser`` on a free port in a scratch folder, drives the distribution's
Chromium (/usr/bin/chromium) with Playwright, and clicks Fit on the bundled analytical curve
``--repeats`` times (the first fit of a process also imports the fitting code; it is reported
apart). The time runs from the click to the new result's status line on the page with the figure
image loaded. Usage::

    python benchmarks/bench_app.py [--repeats 10] [--no-screenshots]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "_static" / "app"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def start(folder):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "respdor", "app", "--no-browser", "--port", str(port)],
                            cwd=folder, env=env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "serving on" in line:
            return proc, line.split("serving on ")[1].split()[0]
    raise SystemExit(f"respdor app did not start (exit {proc.wait()})")


def timed_fit(page, n, expect):
    """Seconds from the click on Fit to the n-th result drawn (status line and figure loaded)."""
    t0 = time.perf_counter()
    page.get_by_role("button", name="Fit", exact=True).click()
    expect(page.locator(".respdor-success").first).to_contain_text(f"fit {n}: done in", timeout=300_000)
    page.locator(".respdor-figure img").evaluate("img => img.complete || new Promise(r => img.onload = r)")
    elapsed = time.perf_counter() - t0
    said = page.get_by_text(f"fit {n}: done in").inner_text()
    return elapsed, float(said.split("done in ")[1].split()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--no-screenshots", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench-app-"))
    proc, url = start(folder)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            t0 = time.perf_counter()
            page.goto(url)
            page.get_by_role("button", name="Fit", exact=True).wait_for()
            print(f"page load: {time.perf_counter() - t0:.2f} s")
            first, _ = timed_fit(page, 1, expect)
            runs = [timed_fit(page, n, expect) for n in range(2, args.repeats + 2)]
            print(f"first fit of the process (imports included): {first:.2f} s")
            for what, times in (("Fit -> drawn result", [r[0] for r in runs]),
                                ("of which the fit and its figure in the worker", [r[1] for r in runs])):
                print(f"{what}, bundled analytical curve, {len(times)} repeats: median "
                      f"{statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
            n = simulated(page, expect, len(runs) + 2, args.repeats)
            if not args.no_screenshots:
                timed_fit(page, n, expect)  # the analytical fit again, for the screenshot
                shots(page, browser, url, folder, expect)
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        print(f"respdor app stopped with exit status {proc.wait(60)} (130: Ctrl-C)")
        shutil.rmtree(folder, ignore_errors=True)


def simulated(page, expect, n, repeats):
    """The same clicks with the bundled spec as the curve shape: the first fit builds (or reads) the
    cached table of simulated curves, the next ones read it."""
    page.locator(".shape-select select").select_option(label="simulated: c13_al27_respdor.toml (bundled spec)")
    first, _ = timed_fit(page, n, expect)
    runs = [timed_fit(page, k, expect) for k in range(n + 1, n + 1 + max(1, repeats // 2))]
    print(f"simulated shape (data/c13_al27_respdor.toml), first fit of the session: {first:.2f} s")
    for what, times in (("Fit -> drawn result, simulated shape, cached", [r[0] for r in runs]),
                        ("of which the fit and its figure in the worker", [r[1] for r in runs])):
        print(f"{what}, {len(times)} repeats: median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
              f"max {max(times):.2f} s")
    page.locator(".shape-select select").select_option(label="analytical formula")
    return n + 1 + len(runs)


def shots(page, browser, url, folder, expect):
    """The documentation's screenshots: every page with a result, and a refused upload."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "fit.png"), full_page=True)
    bad = folder / "spectrum.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(64))
    other = browser.new_page(viewport={"width": 1400, "height": 700})
    other.goto(url)
    other.locator(".curve-upload input[type=file]").set_input_files(str(bad))
    expect(other.locator(".respdor-danger")).to_contain_text("is a binary file")
    other.screenshot(path=str(SHOTS / "fit_bad_upload.png"))
    for tab, button, setup in (("Plan", "Plan", None), ("Structure", "Predict", _structure),
                               ("Simulate", "Simulate", _simulate), ("Spectra", "Fit CSA", None)):
        other.locator(".bk-tab", has_text=tab).click()
        if setup:
            setup(other)
        other.get_by_role("button", name=button, exact=True).click()
        expect(other.get_by_text(f"{button.lower()} 1: done in")).to_be_visible(timeout=300_000)
        other.set_viewport_size({"width": 1400, "height": 1100})
        other.screenshot(path=str(SHOTS / f"{tab.lower()}.png"), full_page=True)
    print(f"wrote {', '.join(sorted(p.name for p in SHOTS.glob('*.png')))} in {SHOTS}")


def _structure(page):
    page.locator(".max-partners input").fill("1")
    page.locator(".compare-curve select").select_option(label="bundled example: respdor_13C27Al_synthetic.csv")


def _simulate(page):
    page.locator(".orientations input").fill("144")
    page.locator(".gamma input").fill("8")
    page.locator(".overlay-curve select").select_option(label="bundled example: respdor_13C27Al_synthetic.csv")


if __name__ == "__main__":
    main()
