"""The Server page in the real window: switch on, address and token, a real request from the
OpenAI client shows up in the log (without its text), rotate, switch off."""

from __future__ import annotations

from pathlib import Path

import pytest
from openai import AuthenticationError, OpenAI
from PySide6.QtGui import QGuiApplication

from slmdesk.ui.app import MainWindow

SCREENSHOT = Path("/tmp/server-page.png")


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.starter_task.done.is_set(), timeout=120_000)
    win.show()
    win.show_section("Server")
    yield win
    win.close()
    win.library.close()


@pytest.mark.slow
def test_switch_on_copy_ask_rotate_and_switch_off(window, qtbot):
    page = window.server_page
    assert page.state == "off" and page.token_field.text().startswith("sk-slmdesk-")
    page.port_box.setValue(_free_port())
    page.switch.click()
    assert page.state == "on" and page.server is not None
    url = page.address.text()
    assert url == f"http://127.0.0.1:{page.port_box.value()}/v1"
    page.copy_token.click()
    assert QGuiApplication.clipboard().text() == page.token_field.text()
    page.copy_address.click()
    assert QGuiApplication.clipboard().text() == url

    client = OpenAI(base_url=url, api_key=page.token_field.text(), max_retries=0, timeout=300)
    names = [m.id for m in client.models.list().data]
    assert "smollm2-135m-instruct" in names
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct", max_tokens=4, temperature=0,
        messages=[{"role": "user", "content": "Say hello to the log"}])
    qtbot.waitUntil(lambda: page.table.rowCount() >= 1, timeout=10_000)
    row = [page.table.item(0, column).text() for column in range(page.table.columnCount())]
    assert row[1:4] == ["/v1/chat/completions", "smollm2-135m-instruct", "200"]
    assert row[4] == f"{reply.usage.prompt_tokens} + {reply.usage.completion_tokens}"
    assert all("hello" not in cell.lower() for cell in row)
    window.resize(1100, 640)
    window.grab().save(str(SCREENSHOT))

    old = page.token_field.text()
    page.rotate.click()
    assert page.token_field.text() != old
    with pytest.raises(AuthenticationError):
        client.models.list()
    fresh = OpenAI(base_url=url, api_key=page.token_field.text(), max_retries=0)
    assert fresh.models.list().data

    page.switch.click()
    qtbot.waitUntil(lambda: page.state == "off", timeout=60_000)
    assert page.address.text() == "" and page.server is None


def test_a_port_in_use_is_said_plainly(window, qtbot):
    import socket

    page = window.server_page
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        page.port_box.setValue(taken.getsockname()[1])
        page.switch.click()
    assert page.state == "off" and not page.switch.isChecked()
    assert "cannot listen" in page.notice.text and "another port" in page.notice.text


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
