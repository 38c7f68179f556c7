"""A real browser (the system's headless Chromium, driven by playwright) uses the running demo like a person would."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = os.environ.get("FLORENZ_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("no system Chromium: run scripts/setup-test-deps.sh (apt-get install chromium) first")
    return path


def _output(page, elem_id: str) -> str:
    selector = f"#{elem_id} textarea"
    page.wait_for_function(f"() => document.querySelector('{selector}')?.value.length > 0", timeout=120_000)
    return page.locator(selector).input_value()


def test_browser_captions_in_french_with_prefix_and_translates(app_url, demo, examples, tmp_path):
    from playwright.sync_api import sync_playwright

    image = str(examples / "caption-0.png")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=_chromium(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.goto(app_url)
            page.locator("#caption-image input[type=file]").set_input_files(image)
            page.locator("#caption-image img").first.wait_for(timeout=60_000)
            page.locator("#caption-language").get_by_label("French (fr)").check()
            page.locator("#caption-prefix").get_by_label("Language prefix").check()
            page.locator("#caption-button").click()
            caption = _output(page, "caption-output")
            page.screenshot(path=str(tmp_path / "caption.png"), full_page=True)

            page.get_by_role("tab", name="Translate").click()
            page.locator("#translate-image input[type=file]").set_input_files(image)
            page.locator("#translate-image img").first.wait_for(timeout=60_000)
            page.locator("#translate-text textarea").fill("A red circle.")
            page.locator("#translate-language").get_by_label("German (de)").check()
            page.locator("#translate-button").click()
            translation = _output(page, "translate-output")
            page.screenshot(path=str(tmp_path / "translate.png"), full_page=True)
        finally:
            browser.close()
    # The page shows exactly what the model generates for these choices (3 beams, 32 new tokens: the UI defaults).
    assert caption.strip() and caption == demo.caption(image, "caption", "fr", True, 3, 32)
    assert translation.strip() and translation == demo.translate(image, "A red circle.", "de", 3, 32)
    assert (tmp_path / "caption.png").stat().st_size > 10_000 and (tmp_path / "translate.png").stat().st_size > 10_000
