"""The model library on a real SQLite database, real files and the real starter model."""

from __future__ import annotations

import shutil

import pytest

from slmdesk.core.gguf.info import GGUFError
from slmdesk.core.library.starters import StarterRole
from slmdesk.core.library.store import (
    DuplicateModelError,
    ImportCancelled,
    LibraryError,
    ModelLibrary,
    file_fingerprint,
)
from slmdesk.paths import app_paths
from tests.gguf_factory import write_tiny_adapter, write_tiny_model


@pytest.fixture
def library():
    lib = ModelLibrary.open(app_paths())
    yield lib
    lib.close()


def test_import_copies_file_and_caches_header(library, tmp_path):
    source = write_tiny_model(tmp_path / "tiny.gguf", architecture="qwen2", name="Tiny Qwen")
    entry = library.import_file(source)
    assert entry.storage == "copy" and entry.owns_file
    assert entry.path.parent == library.paths.models_dir
    assert entry.path.read_bytes() == source.read_bytes()
    assert entry.display_name == "Tiny Qwen" and entry.architecture == "qwen2"
    assert not list(library.paths.models_dir.glob("*.partial"))
    source.unlink()  # the copy is the library's own: the entry does not depend on the source
    assert not library.get(entry.id).is_missing


def test_link_leaves_file_in_place_and_remove_never_deletes_it(library, tmp_path):
    source = write_tiny_model(tmp_path / "linked.gguf")
    entry = library.import_file(source, link=True)
    assert entry.storage == "link" and entry.path == source.resolve()
    library.remove(entry.id, delete_file=True)
    assert source.exists()
    assert library.entries() == []


def test_remove_copied_file_asks_to_delete_or_keep(library, tmp_path):
    kept = library.import_file(write_tiny_model(tmp_path / "a.gguf", name="Kept"))
    deleted = library.import_file(write_tiny_model(tmp_path / "b.gguf", name="Deleted"))
    library.remove(kept.id, delete_file=False)
    library.remove(deleted.id, delete_file=True)
    assert kept.path.exists()
    assert not deleted.path.exists()
    assert library.entries() == []


def test_duplicate_content_is_detected_even_under_another_name(library, tmp_path):
    first = write_tiny_model(tmp_path / "first.gguf")
    copy = tmp_path / "elsewhere" / "renamed.gguf"
    copy.parent.mkdir()
    shutil.copy(first, copy)
    existing = library.import_file(first, link=True)
    with pytest.raises(DuplicateModelError) as caught:
        library.import_file(copy)
    assert caught.value.existing.id == existing.id
    assert "already in the library" in str(caught.value)
    assert len(library.entries()) == 1
    assert not list(library.paths.models_dir.iterdir())


def test_missing_file_is_listed_as_missing_and_heals_on_reimport(library, tmp_path):
    source = write_tiny_model(tmp_path / "moving.gguf")
    entry = library.import_file(source, link=True)
    moved = source.rename(tmp_path / "moved.gguf")
    [listed] = library.entries()
    assert listed.is_missing and listed.to_dict()["missing"] is True
    healed = library.import_file(moved, link=True)
    assert healed.id == entry.id and not healed.is_missing
    assert len(library.entries()) == 1


def test_broken_file_leaves_library_unchanged(library, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 8)
    with pytest.raises(GGUFError):
        library.import_file(broken)
    assert library.entries() == []
    assert not list(library.paths.models_dir.iterdir())


def test_scan_folder_links_models_and_reports_problems(library, tmp_path):
    folder = tmp_path / "downloads"
    (folder / "nested" / "deeper").mkdir(parents=True)
    write_tiny_model(folder / "llama.gguf", architecture="llama", name="Tiny Llama")
    write_tiny_model(folder / "nested" / "qwen.gguf", architecture="qwen2", name="Tiny Qwen")
    write_tiny_adapter(folder / "nested" / "deeper" / "lora.gguf", architecture="llama")
    (folder / "nested" / "empty.gguf").write_bytes(b"")
    (folder / "notes.txt").write_text("not a model")
    report = library.scan_folder(folder)
    assert sorted(entry.display_name for entry in report.added if entry.kind == "model") == [
        "Tiny Llama", "Tiny Qwen"]
    assert [path.name for path, _ in report.errors] == ["empty.gguf"]
    assert "empty" in report.errors[0][1]
    assert all(entry.storage == "link" for entry in report.added)
    again = library.scan_folder(folder)
    assert again.added == [] and len(again.duplicates) == 3
    assert "3 already in the library" in again.summary()


def test_scan_rejects_a_file_path(library, tmp_path):
    with pytest.raises(LibraryError, match="not a folder"):
        library.scan_folder(write_tiny_model(tmp_path / "x.gguf"))


def test_adapter_is_listed_under_a_base_of_its_architecture(library, tmp_path):
    adapter = library.import_file(write_tiny_adapter(tmp_path / "lora.gguf", architecture="qwen2"))
    assert adapter.kind == "adapter" and adapter.base_model_id is None
    library.import_file(write_tiny_model(tmp_path / "llama.gguf", architecture="llama"))
    qwen = library.import_file(write_tiny_model(tmp_path / "qwen.gguf", architecture="qwen2"))
    assert library.get(adapter.id).base_model_id == qwen.id
    assert [entry.id for entry in library.adapters_for(qwen.id)] == [adapter.id]
    library.remove(qwen.id)
    assert library.get(adapter.id).base_model_id is None


def test_cancelled_copy_leaves_nothing(library, tmp_path):
    source = write_tiny_model(tmp_path / "tiny.gguf")
    with pytest.raises(ImportCancelled):
        library.import_file(source, progress=lambda done, total: False)
    assert library.entries() == []
    assert not list(library.paths.models_dir.iterdir())


def test_not_enough_disk_space_is_refused_with_numbers(library, tmp_path, monkeypatch):
    source = write_tiny_model(tmp_path / "tiny.gguf")

    class AlmostFull:
        free = 10

    monkeypatch.setattr("slmdesk.core.library.store.shutil.disk_usage", lambda path: AlmostFull)
    with pytest.raises(LibraryError, match="Not enough disk space"):
        library.import_file(source)
    assert library.entries() == []


def test_find_by_id_or_path(library, tmp_path):
    source = write_tiny_model(tmp_path / "tiny.gguf")
    entry = library.import_file(source)
    assert library.find(str(entry.id)).id == entry.id
    assert library.find(str(entry.path)).id == entry.id
    assert library.find(str(source)).id == entry.id
    with pytest.raises(LibraryError, match="No model"):
        library.find(str(tmp_path / "other.gguf"))
    with pytest.raises(LibraryError, match="no model with id 999"):
        library.find("999")


def test_fingerprint_tells_files_apart(tmp_path):
    a = write_tiny_model(tmp_path / "a.gguf", name="A")
    b = write_tiny_model(tmp_path / "b.gguf", name="B")
    assert file_fingerprint(a) != file_fingerprint(b)
    assert len(file_fingerprint(a)) == 64


@pytest.mark.slow
def test_starter_model_is_assembled_once_with_no_network(library):
    entry = library.ensure_starter()  # the training role: the instruct starter, by measurement
    assert entry.is_starter and entry.storage == "copy"
    assert entry.architecture == "llama" and entry.info.quantization == "Q4_1"
    assert entry.path.parent == library.paths.models_dir
    assert library.ensure_starter().id == entry.id
    assert [e.display_name for e in library.entries()] == ["Gemma 3 270M", "SmolLM2 135M Instruct"]
    chat = library.starter(StarterRole.CHAT)
    assert chat.id == entry.id and chat.info.is_chat_model
    base = library.starter(StarterRole.NOTEBOOK)
    assert base.architecture == "gemma3" and base.info.quantization == "Q4_K_M"
    assert not base.info.is_chat_model and base.is_starter


@pytest.mark.slow
def test_removed_starter_is_not_forced_back(library):
    entry = library.ensure_starter()
    library.remove(entry.id, delete_file=True)
    other = library.ensure_starter()  # the training role falls back to the other starter
    assert other.display_name == "Gemma 3 270M"
    library.remove(other.id, delete_file=True)
    assert library.ensure_starter() is None
    assert library.entries() == []


@pytest.mark.slow
def test_starter_file_deleted_behind_the_library_is_restored(library):
    entry = library.ensure_starter()
    entry.path.unlink()
    assert next(e for e in library.entries() if e.id == entry.id).is_missing
    restored = library.ensure_starter()
    assert restored.id == entry.id and not restored.is_missing


def test_library_survives_reopening(tmp_path):
    first = ModelLibrary.open(app_paths())
    entry = first.import_file(write_tiny_model(tmp_path / "tiny.gguf"))
    first.close()
    second = ModelLibrary.open(app_paths())
    assert [e.id for e in second.entries()] == [entry.id]
    assert second.get(entry.id).info == entry.info
    second.close()


def test_a_header_llama_cpp_cannot_load_never_enters_the_library(library, tmp_path):
    """The same core path as the window's import: refused before anything is copied."""
    for source in (write_tiny_model(tmp_path / "no-arch.gguf", architecture=None),
                   write_tiny_adapter(tmp_path / "no-arch-lora.gguf", architecture=None)):
        for link in (False, True):
            with pytest.raises(GGUFError, match="is not a loadable") as refused:
                library.import_file(source, link=link)
            assert refused.value.reason == "not_loadable"
    assert library.entries() == []
    assert not any(library.paths.models_dir.iterdir())


def test_models_are_found_by_the_names_people_type(library, tmp_path):
    chat = library.import_file(write_tiny_model(tmp_path / "Tiny-Chat.Q4_1.gguf",
                                                name="Tiny Chat"), link=True)
    other = library.import_file(write_tiny_model(tmp_path / "other.gguf", name="Other Model"),
                                link=True)
    for typed in ("Tiny Chat", "tiny-chat", "TINY_CHAT", "Tiny-Chat.Q4_1.gguf", str(chat.id)):
        assert library.resolve(typed)[0].id == chat.id, typed
    assert library.find("other model").id == other.id
    with pytest.raises(LibraryError, match="models list"):
        library.resolve("no such model")
    twin = library.import_file(write_tiny_model(tmp_path / "twin.gguf", name="Other Model",
                                                license="mit"), link=True)
    with pytest.raises(LibraryError, match=f"#{other.id}, #{twin.id}"):
        library.find("other-model")
