"""The console page driven in headless Chromium (Debian's chromium + chromedriver).

Everything is real: the console service as `make run` starts it, the Rasa and action servers,
the tracker store and the knowledge base the action server answers from.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from assistant.console.users import ConsoleDatabase
from assistant.servers import ServerProcess, console_server
from tests.e2e.console_documents import NOTICE_TITLE, NOTICE_V1, NOTICE_V2, notice_file
from tests.live_servers import Assistant, free_port

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ADMIN_PASSWORD, STAFF_PASSWORD = "browser-admin-pw", "browser-staff-pw"
QUESTION = "企业信用修复的办理时限是几天"


@pytest.fixture(scope="module")
def console_url(assistant: Assistant, kb_home: Path) -> Iterator[str]:
    settings = assistant.settings.model_copy(update={"console_port": free_port()})
    # First run: no accounts yet, so the service creates `admin` from CONSOLE_ADMIN_PASSWORD.
    server: ServerProcess = console_server(settings, env={
        "KB_HOME": str(kb_home), "CONSOLE_ADMIN_PASSWORD": ADMIN_PASSWORD})
    server.start()
    try:
        server.wait_healthy(60)
        ConsoleDatabase(settings.console_db).add_user("clerk", STAFF_PASSWORD, "staff")
        yield settings.console_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--lang=zh-CN"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(driver: WebDriver, seconds: float = 30) -> WebDriverWait:
    return WebDriverWait(driver, seconds, poll_frequency=0.2)


def visible(driver: WebDriver, css: str, seconds: float = 30):
    return wait(driver, seconds).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def text_in(driver: WebDriver, css: str, text: str, seconds: float = 60) -> None:
    wait(driver, seconds).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def log_in(driver: WebDriver, url: str, user: str, password: str) -> None:
    driver.delete_all_cookies()
    driver.get(url)
    visible(driver, "#login-username").send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    text_in(driver, "#whoami", user)


def tab(driver: WebDriver, name: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f"header nav button[data-tab='{name}']").click()


def chat(driver: WebDriver, text: str) -> str:
    """Sends one message from the chat tab and returns the assistant's replies to it."""
    tab(driver, "chat")
    before = len(driver.find_elements(By.CSS_SELECTOR, "#chat-log .msg.bot"))
    visible(driver, "#chat-input").send_keys(text)
    wait(driver).until(ec.element_to_be_clickable((By.ID, "chat-send"))).click()
    wait(driver, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chat-log .msg.bot")) > before)
    wait(driver).until(ec.element_to_be_clickable((By.ID, "chat-send")))  # turn complete
    replies = driver.find_elements(By.CSS_SELECTOR, "#chat-log .msg.bot")[before:]
    return "\n".join(r.text for r in replies)


def ask_until(driver: WebDriver, expect: str, tries: int = 10) -> None:
    """The action server switches to a new index generation within seconds: ask again."""
    for _ in range(tries):
        if expect in chat(driver, QUESTION):
            return
    log = driver.find_element(By.ID, "chat-log").text
    pytest.fail(f"the assistant never answered with {expect!r}; chat ends: {log[-300:]}")


def upload(driver: WebDriver, path: Path, doc_id: str, version: str) -> None:
    tab(driver, "kb")
    visible(driver, "#upload-file").send_keys(str(path))
    for field, value in (("upload-doc-id", doc_id), ("upload-version", version),
                         ("upload-title", NOTICE_TITLE)):
        box = driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    driver.execute_script("document.getElementById('upload-effective').value = '2026-01-01'")
    driver.find_element(By.ID, "upload-submit").click()
    text_in(driver, "#upload-result", f"已导入草稿 {doc_id}@{version}")


def _click(driver: WebDriver, selector: str) -> bool:
    try:
        driver.find_element(By.CSS_SELECTOR, selector).click()
    except (StaleElementReferenceException, NoSuchElementException):
        return False
    return True


def publish(driver: WebDriver, doc_id: str, version: str) -> None:
    tab(driver, "kb")
    selector = f"[data-doc='{doc_id}'] tr[data-version='{version}'] button.publish"
    # The document list is redrawn when a diff or a job finishes: a button found just before a
    # redraw is stale, so find it again until a click lands.
    wait(driver).until(lambda d: _click(d, selector))
    wait(driver).until(ec.alert_is_present()).accept()
    wait(driver, 120).until(lambda d: d.find_element(By.ID, "publish-progress")
                            .get_attribute("data-state") in ("published", "refused", "failed"))
    assert driver.find_element(By.ID, "publish-progress").get_attribute("data-state") == \
        "published", driver.find_element(By.ID, "publish-progress").text


def test_login_chat_review_queue_and_takeover(browser: WebDriver, console_url: str) -> None:
    browser.get(console_url)
    visible(browser, "#login-username").send_keys("admin")
    browser.find_element(By.ID, "login-password").send_keys("not-the-password")
    browser.find_element(By.ID, "login-submit").click()
    text_in(browser, "#login-error", "用户名或密码不对")

    log_in(browser, console_url, "admin", ADMIN_PASSWORD)
    assert "绿色通道" in chat(browser, "审批有没有绿色通道？")
    assert "人工" in chat(browser, "我要找人工")

    tab(browser, "queue")
    row = visible(browser, "#queue-table tbody tr[data-sender='console-admin']")
    assert "转人工" in row.text
    row.find_element(By.XPATH, ".//button[text()='查看']").click()
    text_in(browser, "#conversation-detail", "意图 ask_measures")
    assert "引用：" in browser.find_element(By.ID, "conversation-detail").text
    browser.find_element(By.ID, "takeover").click()
    text_in(browser, "#takeover-status", "人工处理中")
    visible(browser, "#staff-reply-input").send_keys("您好，我是客服，马上为您处理。")
    browser.find_element(By.ID, "staff-reply-send").click()
    text_in(browser, "#conversation-detail", "【admin】您好，我是客服，马上为您处理。")
    browser.find_element(By.ID, "release").click()
    text_in(browser, "#takeover-status", "助手正在自动回复")


def test_admin_uploads_diffs_and_publishes_and_the_assistant_follows(
        browser: WebDriver, console_url: str, tmp_path: Path) -> None:
    doc_id = f"credit-{uuid.uuid4().hex[:6]}"
    log_in(browser, console_url, "admin", ADMIN_PASSWORD)
    upload(browser, notice_file(tmp_path, NOTICE_V1), doc_id, "v1")
    publish(browser, doc_id, "v1")
    ask_until(browser, "15个工作日")

    upload(browser, notice_file(tmp_path, NOTICE_V2), doc_id, "v2")
    wait(browser).until(lambda d: _click(d, f"[data-doc='{doc_id}'] tr[data-version='v2'] button.diff"))
    text_in(browser, "#diff-summary", "修改 1")
    assert browser.find_element(By.CSS_SELECTOR, "#kb-diff ins").text == "0"
    publish(browser, doc_id, "v2")
    text_in(browser, f"[data-doc='{doc_id}'] tr[data-version='v2'] .status", "现行")
    ask_until(browser, "10个工作日")


def test_staff_cannot_publish_and_the_page_fits_a_tablet(
        browser: WebDriver, console_url: str) -> None:
    log_in(browser, console_url, "clerk", STAFF_PASSWORD)
    tab(browser, "kb")
    visible(browser, "#kb-documents .document")
    assert not browser.find_element(By.ID, "upload-form").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "button.publish") == []
    browser.set_window_size(800, 1100)
    for name in ("chat", "queue", "conversations", "kb"):
        tab(browser, name)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways on a tablet"
    browser.set_window_size(1280, 900)
