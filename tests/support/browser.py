"""A real browser for the page tests: Debian's chromium driven by Selenium through Debian's
chromium-driver, at a desktop's size or a phone's, with screenshots a person can look at.

Nothing is downloaded: Selenium is given both executables, so Selenium Manager never runs. Each
browser has a profile of its own and is stopped after its test. Screenshots land in
``build/screenshots/`` at the top of the checkout (``desktop-incident.png``, ``phone-incident.png``).
"""

from __future__ import annotations

import base64
import os
import pathlib
from dataclasses import dataclass

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.binaries import missing

REPO = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM = ("/usr/bin/chromium", "chromium")
CHROMEDRIVER = ("/usr/bin/chromedriver", "chromium-driver")
# Headless as root in a container; no network of the browser's own (updates, sync, QUIC probes).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync")
PHONE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
                    "Gecko) Chrome/156.0.0.0 Mobile Safari/537.36")


@dataclass(frozen=True)
class Size:
    name: str
    width: int  # CSS pixels, what window.innerWidth reads
    height: int
    pixel_ratio: float
    mobile: bool


DESKTOP = Size("desktop", 1366, 900, 1.0, mobile=False)
PHONE = Size("phone", 390, 844, 3.0, mobile=True)
SIZES = (DESKTOP, PHONE)


def debian_executable(path_and_package: tuple[str, str]) -> str:
    path, package = path_and_package
    if not os.access(path, os.X_OK):
        missing(f"{path} is not installed (Debian package {package})")
    return path


def chromium_options(size: Size, profile: pathlib.Path) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = debian_executable(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # the viewport exactly, on the desktop too (a headless window's size includes its frame)
    emulation = {"deviceMetrics": {"width": size.width, "height": size.height,
                                   "pixelRatio": size.pixel_ratio, "mobile": size.mobile,
                                   "touch": size.mobile}}
    if size.mobile:
        emulation["userAgent"] = PHONE_USER_AGENT
    options.add_experimental_option("mobileEmulation", emulation)
    return options


class Browser:
    """One chromium at one size, on pages of ``base_url``."""

    def __init__(self, size: Size, profile: pathlib.Path, base_url: str = ""):
        self.size = size
        self.base_url = base_url
        service = Service(executable_path=debian_executable(CHROMEDRIVER))
        self.driver = webdriver.Chrome(options=chromium_options(size, profile), service=service)
        self.driver.set_page_load_timeout(30)

    def quit(self) -> None:
        self.driver.quit()

    def open(self, path_or_url: str) -> None:
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        self.driver.get(url)

    @property
    def path(self) -> str:
        return self.js("return location.pathname")

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, predicate, timeout: float = 10, message: str = ""):
        """Wait until ``predicate(self)`` is truthy; that value."""
        return WebDriverWait(self.driver, timeout).until(lambda _: predicate(self), message)

    def sign_in(self, token: str) -> None:
        """On the sign-in page: type the token and press Enter, as a person does."""
        field = self.find("#token")
        field.clear()
        self.leave_page(lambda: field.send_keys(token, Keys.ENTER), "the sign-in form answered")

    def leave_page(self, action, message: str, timeout: float = 10) -> None:
        """Do ``action``, which leaves this page, and wait until the next one has loaded. Asked
        while the browser navigates, chromedriver may answer an error (a node of the page going
        away): that means not yet."""
        self.js("window.owlLeaving = true")
        action()
        WebDriverWait(self.driver, timeout, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: driver.execute_script(
                "return !window.owlLeaving && document.readyState === 'complete'"), message)

    def viewport_width(self) -> int:
        return self.js("return window.innerWidth")

    def scroll_width(self) -> int:
        """The page's width: more than the viewport's when it scrolls sideways."""
        return self.js("return document.documentElement.scrollWidth")

    def fits(self) -> bool:
        """The page does not scroll sideways. On a phone, a page wider than the screen also
        widens the viewport (the browser zooms out to show all of it), so its width counts."""
        return self.viewport_width() == self.size.width and \
            self.scroll_width() <= self.viewport_width()

    def bottom(self, element: WebElement) -> float:
        return self.js("return arguments[0].getBoundingClientRect().bottom", element)

    def viewport_height(self) -> int:
        return self.js("return window.innerHeight")

    def focused(self) -> WebElement:
        return self.driver.switch_to.active_element

    def press(self, *keys: str) -> None:
        """Keys pressed on whatever has the focus, as on a keyboard."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def tab_to(self, element: WebElement, most: int = 12) -> int | None:
        """Press Tab from where the page starts until ``element`` has the focus; how many presses
        it took (None: never within ``most``)."""
        for presses in range(1, most + 1):
            self.press(Keys.TAB)
            if self.focused() == element:
                return presses
        return None

    def screenshot(self, page: str) -> pathlib.Path:
        """The whole page, beyond the first screen too, as ``build/screenshots/<size>-<page>.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.size.name}-{page}.png"
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture(params=SIZES, ids=[size.name for size in SIZES])
def browser(request, tmp_path):
    """A fresh chromium, once at a desktop's size and once at a phone's."""
    opened = Browser(request.param, tmp_path / "chromium-profile")
    yield opened
    opened.quit()
