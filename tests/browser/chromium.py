"""Headless Chromium for the browser tests, and a live server that notes what it served."""

import shutil
import tempfile
import threading
import unittest
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connection
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
WAIT_SECONDS = 10

# The machine has no outside network: these keep Chromium from waiting on
# updates, sync, QUIC probes and a too small /dev/shm.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1024",
]

# Answered by the live server itself, never by Django: how many requests of one
# kind have arrived so far, so that a page can wait for its own submission.
ARRIVALS_PATH = "/__live_server__/arrivals"


def missing_browser() -> str:
    """Return why Chromium cannot be driven here, or an empty string when it can."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not program.is_file():
            return (
                f"needs {program} (Debian's chromium and chromium-driver packages; "
                ".ci/run installs them)"
            )
    return ""


needs_chromium = unittest.skipIf(bool(missing_browser()), missing_browser())


def start_chromium(profile: str) -> WebDriver:
    """Start headless Chromium with ``profile`` as its (fresh) user data directory."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT_SECONDS * 3)
    return driver


@dataclass(frozen=True)
class Served:
    """One answer the live server gave: ``"POST /api/orders/"`` and its status."""

    request: str
    status: int


class RecordingHandler(StaticFilesHandler):
    """Serve the live server's requests, note each one, and hold answers on demand.

    ``hold`` makes the answers to one kind of request wait until that many of
    them have arrived, as a slow server would: a second click then lands while
    the first submission is still waiting for its answer.

    The in-memory SQLite test database is one connection shared by the server's
    threads, so on SQLite the application serves one request at a time.
    """

    arrivals: Counter[str] = Counter()
    served: list[Served] = []
    hold: tuple[str, int] | None = None
    _changed = threading.Condition()
    _one_at_a_time = threading.Lock()

    @classmethod
    def reset(cls):
        with cls._changed:
            cls.arrivals.clear()
            cls.served.clear()
            cls.hold = None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == ARRIVALS_PATH:
            return self._answer_arrivals(environ, start_response)
        request = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}"
        with self._changed:
            self.arrivals[request] += 1
            self._changed.notify_all()

        def recording_start_response(status, headers, exc_info=None):
            with self._changed:
                self.served.append(Served(request, int(status.split(" ", 1)[0])))
            return start_response(status, headers, exc_info)

        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            with self._one_at_a_time:
                response = super().__call__(environ, recording_start_response)
        else:
            response = super().__call__(environ, recording_start_response)
        with self._changed:
            if self.hold is not None and self.hold[0] == request:
                held, until = self.hold
                self._changed.wait_for(
                    lambda: self.arrivals[held] >= until, timeout=WAIT_SECONDS
                )
        return response

    def _answer_arrivals(self, environ, start_response):
        request = parse_qs(environ.get("QUERY_STRING", "")).get("request", [""])[0]
        with self._changed:
            body = str(self.arrivals[request]).encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/plain"), ("Cache-Control", "no-store")],
        )
        return [body]


class BrowserTestCase(StaticLiveServerTestCase):
    """A live server and one headless Chromium shared by the class's tests."""

    static_handler = RecordingHandler
    driver: WebDriver

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        profile = tempfile.TemporaryDirectory(prefix="idem-chromium-")
        cls.addClassCleanup(profile.cleanup)
        cls.driver = start_chromium(profile.name)
        # Class cleanups run last in, first out: the browser quits before the
        # live server stops and before its profile is removed.
        cls.addClassCleanup(cls.driver.quit)

    def setUp(self):
        super().setUp()
        RecordingHandler.reset()
        self.addCleanup(RecordingHandler.reset)
        self.driver.delete_all_cookies()
        self._shots = 0
        self._shot_folder = SCREENSHOTS / type(self).__name__ / self._testMethodName
        shutil.rmtree(self._shot_folder, ignore_errors=True)

    def wait(self) -> WebDriverWait:
        return WebDriverWait(self.driver, WAIT_SECONDS)

    def wait_until_gone(self, element) -> None:
        """Wait until ``element`` has left the document (the page was replaced).

        Chromium may answer a question about a node of a page it has just
        replaced with an inspector error instead of "stale element": both
        mean the node is gone.
        """

        def gone(_driver) -> bool:
            try:
                element.is_enabled()
            except WebDriverException:
                return True
            return False

        self.wait().until(gone)

    def wait_for_server(self, condition, message):
        """Wait, without touching the browser, until ``condition()`` is true."""
        return WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: condition(), message
        )

    def screenshot(self, step: str) -> Path:
        """Save the page as ``screenshots/<class>/<test>/<n>-<step>.png``."""
        self._shots += 1
        self._shot_folder.mkdir(parents=True, exist_ok=True)
        path = self._shot_folder / f"{self._shots:02d}-{step}.png"
        self.driver.save_screenshot(str(path))
        return path

    def hold_answers(self, request: str, *, until: int) -> None:
        """Hold the answers to ``request`` until ``until`` of them have arrived."""
        RecordingHandler.hold = (request, until)

    def statuses(self, request: str) -> list[int]:
        """Return the statuses of the answers to ``request`` so far, in order."""
        return [s.status for s in RecordingHandler.served if s.request == request]

    def open(self, path: str) -> None:
        """Load ``path`` of the live server and wait until its document is complete."""
        self.driver.get(f"{self.live_server_url}{path}")
        self.wait().until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def log_in(self, path: str, *, email: str, password: str) -> None:
        """Fill the Django login form at ``path`` and submit it."""
        self.open(path)
        self.driver.find_element(By.NAME, "username").send_keys(email)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.screenshot("login-form")
        login_page = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
        self.wait_until_gone(login_page)
