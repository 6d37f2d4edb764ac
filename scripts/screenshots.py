"""Refresh the README's pictures: docs/preview.png and docs/report.png, made from the shipped
campaigns in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright from the test extra).

    .venv/bin/python scripts/screenshots.py

preview.png: `campaign preview campaigns/winter-sale.toml --limit 2 --html`.
report.png:  report.html of `campaign send --sandbox campaigns/winter-sale.toml` (a local simulator;
             nothing leaves the machine).
Everything is written under a temporary folder except the two PNG files."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def campaign(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "runner", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 3):  # 3: the sandbox's refused numbers, if a campaign has any
        sys.exit(f"campaign {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        preview = folder / "preview.html"
        campaign("preview", "campaigns/winter-sale.toml", "--limit", "2", "--html", "-o", str(preview))
        out = campaign("send", "--sandbox", "campaigns/winter-sale.toml", "--outputs", str(folder / "outputs"))
        report = Path(out.strip().splitlines()[-1].split("open the summary page: ", 1)[1])
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(folder / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
            )
            for page_file, png, width in ((preview, "preview.png", 800), (report, "report.png", 1200)):
                page = context.new_page()
                page.set_viewport_size({"width": width, "height": 800})
                page.goto(page_file.as_uri(), wait_until="load")
                page.screenshot(path=str(ROOT / "docs" / png), full_page=True)
                print(f"docs/{png} from {page_file.name}")
            context.close()


if __name__ == "__main__":
    main()
