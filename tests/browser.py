"""A phone in headless Chromium (Debian's, never a downloaded browser) for the mini-program
pages: log in through the mock WeChat platform, open pages, keep screenshots as artefacts.

`tests/conftest.py` imports the fixtures below (`playwright_driver`, `browser`, `site`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from backend.activities.models import Activity, Signup
from backend.extensions import db

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "miniprogram"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN",
         "timezone_id": "Asia/Shanghai"}


def launch(playwright: Playwright, *extra_args: str) -> Browser:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: scripts/test installs it"
    # Root in a container: Chromium's sandbox needs user namespaces it does not get.
    return playwright.chromium.launch(executable_path=executable, headless=True,
                                      args=["--no-sandbox", *extra_args])


class Phone:
    """One person's phone: a browser context with its own storage (token, WeChat account)."""

    def __init__(self, page: Page, site: str) -> None:
        self.page = page
        self.site = site
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, route: str) -> Page:
        self.page.goto(f"{self.site}/mp/#{route}")
        return self.page

    def login(self, openid: str) -> Phone:
        page = self.open("/login")
        page.get_by_test_id("login-openid").fill(openid)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("tab-activities")).to_be_visible()
        return self

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # Only the page scrolls inside the phone's shell: let it grow for the whole picture.
        self.page.evaluate("document.documentElement.classList.add('full-page')")
        self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        self.page.evaluate("document.documentElement.classList.remove('full-page')")

    def by(self, testid: str):
        return self.page.get_by_test_id(testid)

    def open_work(self, item: str) -> None:
        """The 工作 tab, then one of its entries (``work-<item>``)."""
        self.by("tab-work").click()
        self.by(f"work-{item}").click()


@contextmanager
def phone(browser: Browser, site: str, **context_options) -> Iterator[Phone]:
    context = browser.new_context(**PHONE, **context_options)
    try:
        device = Phone(context.new_page(), site)
        yield device
        # No uncaught script error on any page the test walked through.
        assert device.errors == []
    finally:
        context.close()


def qr_png(text: str) -> bytes:
    import io

    import qrcode

    buffer = io.BytesIO()
    qrcode.make(text).save(buffer, format="PNG")
    return buffer.getvalue()


def camera_file(png: bytes, path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """A Y4M video (what Chromium's fake camera plays) showing ``png`` on a white wall."""
    import io

    from PIL import Image

    width, height = size
    frame = Image.new("RGB", size, "white")
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    side = min(width, height) - 60
    frame.paste(picture.resize((side, side), Image.NEAREST),
                ((width - side) // 2, (height - side) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + planes) * 2)
    return path


def camera_args(video: Path) -> list[str]:
    """Chromium flags: a fake camera playing ``video``, permission granted without a prompt."""
    return ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]


@pytest.fixture(scope="session")
def playwright_driver():
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = launch(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture
def site(served, mock_wx) -> str:
    return served.removesuffix("/api/v1")


def sign_up(make, person, activity_id):
    response = make.call("POST", f"/api/v1/activities/{activity_id}/signups", person)
    assert response.status_code in (200, 201), response.json
    return response.json


def seat(app, activity_id, person):
    """A confirmed seat on an activity that has already started (sign-up is closed by then)."""
    with app.app_context():
        signup = Signup(activity_id=activity_id, user_id=person.id)
        signup.confirm()
        db.session.add(signup)
        db.session.get(Activity, activity_id).confirmed_count += 1
        db.session.commit()
