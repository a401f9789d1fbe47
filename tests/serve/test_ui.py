"""The web UI end to end in headless Chromium (Debian's, driven by Playwright): log in with a key, drop a
document, watch it learn in the real worker process, ask, and see the knowledge base's answer; and watch a
document move through the three memories that answer for it (short-term, learning, in weights).

CI installs chromium (.ci/run) and sets DUALBRAIN_REQUIRE_BROWSER=1, so there a missing browser fails the
test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.serve.worker import run_worker
from dualbrain.store import Home
from tests.settings import FAST

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The closed network refuses Chromium's own background connections; these flags stop it from trying.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
LEARNING_SECONDS = 180
QUESTION = "What did Edda Vrankel found?"

if CHROMIUM is None and os.environ.get("DUALBRAIN_REQUIRE_BROWSER") != "1":
    pytest.skip("no chromium here (CI installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def test_upload_learn_and_ask_in_the_browser(live_server: Callable[..., str], home: Home, tiny_model_dir: Path, tmp_path: Path) -> None:
    url = live_server()  # with the learning worker in its own process, as `dualbrain serve` runs it
    with _logged_in(url, home.keys().create("write", "acme")[1]) as page:
        sync_api.expect(page.locator("#key-info")).to_contain_text("write · acme only")
        sync_api.expect(page.locator("#kb-select")).to_have_value("acme")
        sync_api.expect(page.locator("#new-kb")).to_be_hidden()  # only a global admin creates bases

        _drop(page, "kite-club.md", "Edda Vrankel also founded the Marrowgate Kite Club in 1992.\n")
        sync_api.expect(page.locator("#upload-result")).to_contain_text("kite-club.md", timeout=30_000)
        sync_api.expect(page.locator("#upload-result")).to_contain_text("learning queued")
        sync_api.expect(page.locator("#learn-status")).to_contain_text("done", timeout=LEARNING_SECONDS * 1000)
        sync_api.expect(page.locator("#documents")).to_contain_text("kite-club.md")
        sync_api.expect(page.locator("#versions")).to_contain_text("serving")

        page.check("#compare-base")
        page.fill("#chat-input", QUESTION)
        page.click("#chat-send")
        sync_api.expect(page.locator("#chat-send")).to_be_enabled(timeout=60_000)  # both answers finished
        version = home.open_kb("acme").current_version().id
        sync_api.expect(page.locator(".answer-knowledge .label")).to_have_text(f"knowledge ({version})")
        brain = DualBrain.open("acme", home=home, model=tiny_model_dir)
        shown = page.locator(".answer-knowledge .text").text_content().strip()
        assert shown == brain.ask(QUESTION, max_new_tokens=128)
        assert page.locator(".answer-base .text").text_content().strip() == brain.ask(QUESTION, mode="base", max_new_tokens=128)
        page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)


def test_documents_show_the_memory_that_answers_them(live_server: Callable[..., str], home: Home, tiny_model_dir: Path) -> None:
    url = live_server(worker=False)  # the test learns itself, so each state holds until it moves on
    with _logged_in(url, home.keys().create("write", "acme")[1]) as page:
        sync_api.expect(page.locator("#kb-select")).to_have_value("acme")
        _drop(page, "drone.md", "The Corvex C3 survey drone weighs 2.4 kg.\n")
        drone = page.locator("#documents tr", has_text="drone.md")
        sync_api.expect(drone).to_contain_text("short-term", timeout=30_000)
        page.fill("#chat-input", "What does the Corvex C3 weigh?")
        page.click("#chat-send")
        sync_api.expect(page.locator(".answer-knowledge .label")).to_contain_text("from short-term", timeout=60_000)

        held, release = threading.Event(), threading.Event()

        def hold(epoch: int, model: object) -> None:  # training stays at its first epoch's end until the UI has looked
            held.set()
            release.wait(LEARNING_SECONDS)

        learner = DualBrain.open("acme", home=home, model=tiny_model_dir)
        learning = threading.Thread(target=lambda: learner.learn(config=FAST, on_epoch_end=hold))
        learning.start()
        try:
            assert held.wait(LEARNING_SECONDS)
            sync_api.expect(drone).to_contain_text("learning", timeout=30_000)
            sync_api.expect(drone).to_contain_text("(training)")
        finally:
            release.set()
            learning.join()
        run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)  # the upload's request: nothing left
        sync_api.expect(drone).to_contain_text("in weights", timeout=30_000)
        sync_api.expect(page.locator("#documents")).not_to_contain_text("short-term")


@contextmanager
def _logged_in(url: str, token: str) -> Iterator["sync_api.Page"]:
    """The web UI in headless Chromium, the key given as the browser's Basic password; no page error may occur."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(http_credentials={"username": "me", "password": token}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            yield page
            assert not errors, errors
        finally:
            browser.close()


def _drop(page: "sync_api.Page", name: str, text: str) -> None:
    """Drag and drop, as a user would: a DataTransfer with the file, dropped on the zone."""
    page.evaluate("""([name, text]) => {
        const data = new DataTransfer();
        data.items.add(new File([text], name, { type: "text/markdown" }));
        document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
    }""", [name, text])
