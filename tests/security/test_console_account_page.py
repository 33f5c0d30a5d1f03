"""Staff changing their password and signing out their other sessions on the console page:
headless Chromium (Debian's chromium + chromedriver) against the real console process (no
Rasa needed), every request with the page's CSRF token as a browser sends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from assistant.settings import RuntimeSettings
from tests.security.test_console_auth import PASSWORD, serve_console

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeSettings]:
    yield from serve_console(tmp_path_factory.mktemp("page-var"))


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("needs Debian's chromium and chromedriver (make browser)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=390,844",
        "--lang=zh-CN",
    ):  # a phone
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def text_in(driver: WebDriver, css: str, text: str) -> None:
    WebDriverWait(driver, 30, poll_frequency=0.2).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )


def fill(driver: WebDriver, values: dict[str, str]) -> None:
    for field, value in values.items():
        box = driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)


def other_session(url: str, user: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    assert http.post("/api/login", json={"username": user, "password": password}).status_code == 200
    return http


def test_staff_change_their_password_and_sign_out_elsewhere_on_the_page(
    browser: WebDriver, served: RuntimeSettings
) -> None:
    url = served.console_url
    phone = other_session(url, "qian", PASSWORD)
    browser.get(url)
    WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.ID, "login-username")))
    fill(browser, {"login-username": "qian", "login-password": PASSWORD})
    browser.find_element(By.ID, "login-submit").click()
    text_in(browser, "#whoami", "qian")
    browser.find_element(By.CSS_SELECTOR, "header nav button[data-tab='account']").click()

    new_password = f"page-{uuid.uuid4().hex[:8]}"
    fill(
        browser,
        {
            "password-current": PASSWORD,
            "password-new": new_password,
            "password-again": new_password + "x",
        },
    )
    browser.find_element(By.ID, "password-submit").click()
    text_in(browser, "#password-result", "不一致")
    fill(browser, {"password-current": "wrong-password", "password-again": new_password})
    browser.find_element(By.ID, "password-submit").click()
    text_in(browser, "#password-result", "当前密码不对")
    assert phone.get("/api/me").status_code == 200

    fill(
        browser,
        {
            "password-current": PASSWORD,
            "password-new": new_password,
            "password-again": new_password,
        },
    )
    browser.find_element(By.ID, "password-submit").click()
    text_in(browser, "#password-result", "密码已修改")
    assert phone.get("/api/me").status_code == 401
    assert browser.find_element(By.ID, "password-current").get_attribute("value") == ""

    tablet = other_session(url, "qian", new_password)
    browser.find_element(By.ID, "logout-others").click()
    text_in(browser, "#logout-others-result", "已退出其他设备上的 1 处登录")
    assert tablet.get("/api/me").status_code == 401
    browser.find_element(By.CSS_SELECTOR, "header nav button[data-tab='chat']").click()
    text_in(browser, "#whoami", "qian")  # the page's own session goes on
    browser.find_element(By.CSS_SELECTOR, "header nav button[data-tab='account']").click()
    browser.find_element(By.ID, "logout-others").click()
    text_in(browser, "#logout-others-result", "没有其他设备上的登录")
