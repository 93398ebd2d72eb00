"""The Get models page, driven by pytest-qt against a loopback Hub with the real core."""

from __future__ import annotations

import subprocess

import pytest
from PySide6.QtCore import Qt

from slmdesk.core.hub.catalogue import catalogue_model
from slmdesk.core.hub.store import DownloadStatus
from slmdesk.core.hub.transfer import RetryPolicy
from slmdesk.core.library.store import ModelLibrary
from slmdesk.paths import app_paths
from slmdesk.ui.models.page import GetModelsPage
from tests.hub_server import HubFileSpec, start_loopback_hub, write_gguf

GB = 1000**3
QWEN = catalogue_model("qwen2.5-0.5b")
QWEN_Q4 = QWEN.recommended_file


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = start_loopback_hub(monkeypatch, tmp_path)
    data = write_gguf(tmp_path / "model.gguf", padding_bytes=1_000_000).read_bytes()
    server.add_file(QWEN_Q4.repo_id, QWEN_Q4.filename, HubFileSpec(data))
    yield server
    server.__exit__()


def make_page(qtbot, available_bytes: int = 2 * GB) -> GetModelsPage:
    page = GetModelsPage(app_paths().ensure(), RetryPolicy(stall_seconds=2, attempts=2),
                         available_bytes=available_bytes)
    qtbot.addWidget(page)
    page.resize(1000, 720)
    page.show()
    return page


def close_page(page: GetModelsPage) -> None:
    page.shutdown()
    page.conn.close()


def select_catalogue_file(page: GetModelsPage, model_name: str, quantization: str) -> None:
    (top,) = page.catalogue.findItems(model_name, Qt.MatchFlag.MatchExactly, 0)
    child = next(top.child(i) for i in range(top.childCount())
                 if top.child(i).text(0) == quantization)
    page.catalogue.setCurrentItem(child)


def library_entries() -> list:
    library = ModelLibrary.open(app_paths())
    try:
        return library.entries()
    finally:
        library.close()


def test_the_catalogue_lists_quantizations_sizes_licenses_and_the_fit(qtbot):
    page = make_page(qtbot, available_bytes=2 * GB)
    tree = page.catalogue
    names = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert "Qwen2.5 0.5B Instruct" in names and "Phi-3.5 mini instruct" in names
    (qwen,) = tree.findItems("Qwen2.5 0.5B Instruct", Qt.MatchFlag.MatchExactly, 0)
    assert qwen.text(2) == "apache-2.0" and "Q4_K_M" in qwen.text(1)
    assert {qwen.child(i).text(0) for i in range(qwen.childCount())} >= {"Q4_K_M", "Q8_0"}
    assert qwen.text(3) == "Fits"
    (phi,) = tree.findItems("Phi-3.5 mini instruct", Qt.MatchFlag.MatchExactly, 0)
    assert phi.text(3) == "Will not fit" and "Needs about" in phi.toolTip(3)
    assert page.where_label.text().startswith("Searches and downloads go to http://127.0.0.1") \
        or "go to" in page.where_label.text()
    close_page(page)


def test_a_model_row_downloads_its_recommended_file(qtbot):
    page = make_page(qtbot)
    smol = catalogue_model("smollm2-360m")
    (top,) = page.catalogue.findItems(smol.name, Qt.MatchFlag.MatchExactly, 0)
    page.catalogue.setCurrentItem(top)
    assert smol.recommended_file.filename in page.selection_hint.text()
    assert "Q4_K_M" in smol.recommended_file.filename
    close_page(page)


def test_opening_the_page_sends_nothing(qtbot, hub):
    page = make_page(qtbot)
    qtbot.wait(50)
    assert hub.requests == []
    assert hub.url in page.where_label.text()
    close_page(page)


def test_a_download_shows_progress_and_lands_in_the_library(qtbot, hub):
    hub.repos[QWEN_Q4.repo_id].files[QWEN_Q4.filename].bytes_per_second = 1_500_000
    page = make_page(qtbot)
    select_catalogue_file(page, QWEN.name, "Q4_K_M")
    with qtbot.waitSignal(page.library_changed, timeout=30000), \
            qtbot.waitSignal(page.download_ended, timeout=30000) as ended:
        page.download_button.click()
        row = next(iter(page.downloads.rows.values()))
        qtbot.waitUntil(lambda: 0 < row.bar.value() < 1000, timeout=10000)
        assert "/s" in row.status_label.text()
    assert ended.args[1] == "done"
    assert row.status == DownloadStatus.DONE and row.bar.value() == 1000
    assert "checked against the Hub's SHA-256" in page.notice.text
    assert [e.path.name for e in library_entries()] == [QWEN_Q4.filename]
    page.grab().save("/tmp/17-shot-done.png")
    close_page(page)


def test_cancel_stops_and_deletes_the_part(qtbot, hub):
    hub.repos[QWEN_Q4.repo_id].files[QWEN_Q4.filename].bytes_per_second = 300_000
    page = make_page(qtbot)
    select_catalogue_file(page, QWEN.name, "Q4_K_M")
    download_id = page.download_selected()
    row = page.downloads.row(download_id)
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=10000)
    with qtbot.waitSignal(page.download_ended, timeout=10000) as ended:
        row.cancel_button.click()
    assert ended.args == [download_id, "cancelled"]
    assert page.downloads.row(download_id) is None
    assert list(app_paths().downloads_dir.iterdir()) == []
    assert library_entries() == []
    close_page(page)


def test_a_paused_download_is_resumed_after_a_restart(qtbot, hub):
    spec = hub.repos[QWEN_Q4.repo_id].files[QWEN_Q4.filename]
    spec.bytes_per_second = 300_000
    page = make_page(qtbot)
    select_catalogue_file(page, QWEN.name, "Q4_K_M")
    download_id = page.download_selected()
    row = page.downloads.row(download_id)
    qtbot.waitUntil(lambda: row.bar.value() > 50, timeout=10000)
    page.grab().save("/tmp/17-shot.png")
    with qtbot.waitSignal(page.download_ended, timeout=10000) as ended:
        row.pause_button.click()
    assert ended.args == [download_id, "paused"]
    assert row.resume_button.isVisible() and "kept" in row.status_label.text()
    close_page(page)

    spec.bytes_per_second = None
    again = make_page(qtbot)  # the window opened again
    restored = again.downloads.row(download_id)
    assert restored is not None and restored.status == DownloadStatus.PAUSED
    assert restored.bar.value() > 0
    kept = again.store.get(download_id).bytes_on_disk
    with qtbot.waitSignal(again.download_ended, timeout=30000) as ended:
        restored.resume_button.click()
    assert ended.args == [download_id, "done"]
    assert hub.gets[-1].range == f"bytes={kept}-"
    assert len(library_entries()) == 1
    close_page(again)


def test_a_download_killed_with_its_window_is_listed_as_paused(qtbot, hub):
    page = make_page(qtbot)
    download_id = page.store.create(QWEN_Q4.repo_id, QWEN_Q4.filename,
                                    app_paths().downloads_dir).id
    dead = subprocess.Popen(["true"])
    dead.wait()
    page.store.update(download_id, status="running", pid=dead.pid)
    close_page(page)
    again = make_page(qtbot)
    row = again.downloads.row(download_id)
    assert row.status == DownloadStatus.PAUSED and row.resume_button.isVisible()
    close_page(again)


def test_search_lists_repositories_and_their_files(qtbot, hub):
    page = make_page(qtbot)
    page.tabs.setCurrentIndex(1)
    view = page.search_view
    view.query_edit.setText("qwen")
    with qtbot.waitSignal(view.results_shown, timeout=10000):
        view.search_button.click()
    assert view.results.count() == 1
    with qtbot.waitSignal(view.results_shown, timeout=10000):
        view.results.setCurrentRow(0)
    item = view.files.topLevelItem(0)
    assert item.text(0) == QWEN_Q4.filename and item.text(1) == "Q4_K_M"
    assert item.text(3) == "Fits"
    view.files.setCurrentItem(item)
    with qtbot.waitSignal(page.download_ended, timeout=30000) as ended:
        page.download_button.click()
    assert ended.args[1] == "done"
    close_page(page)


def test_a_refusal_is_shown_in_plain_words(qtbot, hub):
    hub.repos[QWEN_Q4.repo_id].status = 404
    page = make_page(qtbot)
    select_catalogue_file(page, QWEN.name, "Q4_K_M")
    with qtbot.waitSignal(page.download_ended, timeout=10000) as ended:
        page.download_button.click()
    assert ended.args[1] == "failed"
    assert "There is no repository" in page.notice.text
    assert library_entries() == []
    close_page(page)


def test_offline_turns_the_page_off(qtbot, hub):
    page = make_page(qtbot)
    page.offline_box.setChecked(True)
    assert not page.download_button.isEnabled() and not page.search_view.isEnabled()
    assert "Offline" in page.where_label.text()
    close_page(page)
    again = make_page(qtbot)
    assert again.offline_box.isChecked() and not again.download_button.isEnabled()
    assert hub.requests == []
    close_page(again)
