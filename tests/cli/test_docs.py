"""``slmdesk docs`` and ``slmdesk chat --docs``, run as real processes on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_main import no_starter, slmdesk  # noqa: F401 (a fixture)
from tests.document_factory import write_town_notes


def _notes(tmp_path: Path) -> Path:
    folder = write_town_notes(tmp_path / "notes")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    return folder


def test_add_list_search_files_remove(no_starter, tmp_path):  # noqa: F811
    folder = _notes(tmp_path)
    added = slmdesk("docs", "add", "town", str(folder))
    assert added.returncode == 0, added.stderr
    assert "town: 2 added" in added.stdout and "empty.txt: The file is empty." in added.stdout
    listing = json.loads(slmdesk("docs", "list", "--json").stdout)
    assert [(c["name"], c["files"], c["skipped"], c["status"]) for c in listing] == [("town", 2, 1, "ready")]
    found = json.loads(slmdesk("docs", "search", "town", "When is rye bread sold?", "--json").stdout)
    assert found[0]["file_name"] == "bakery.md" and found[0]["place"] == "\u201cBakery\u201d, line 1"
    assert found[0]["heading"] == "Bakery" and found[0]["line"] == 1
    text = slmdesk("docs", "search", "town", "who keeps the lighthouse").stdout
    assert text.startswith("[1] light.txt, line 1\n") and "Agnes Moreau" in text
    bread = slmdesk("docs", "search", "town", "rye bread").stdout
    assert bread.startswith("[1] bakery.md, \u201cBakery\u201d, line 1\n")
    assert slmdesk("docs", "search", "town", "quantum chromodynamics").stdout == "No relevant passages.\n"
    assert "empty.txt: The file is empty." in slmdesk("docs", "files", "town").stdout
    (folder / "bakery.md").unlink()
    again = slmdesk("docs", "index", "town")
    assert "0 added, 0 changed, 2 unchanged, 1 removed" in again.stdout
    missing = slmdesk("docs", "search", "nowhere", "bread")
    assert missing.returncode == 1 and "There is no collection named \u201cnowhere\u201d" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert slmdesk("docs", "remove", "town").returncode == 0
    assert json.loads(slmdesk("docs", "list", "--json").stdout) == []


@pytest.mark.slow
def test_chat_answers_from_a_document_and_cites_it(no_starter, tmp_path):  # noqa: F811
    from slmdesk.core.library.starters import _smollm2_file

    folder = _notes(tmp_path)
    assert slmdesk("docs", "add", "town", str(folder)).returncode == 0
    result = slmdesk("chat", str(_smollm2_file()), "--docs", "town", "Who is the lighthouse keeper?",
                     "--temperature", "0", "--max-tokens", "40", "--context-length", "1024", "--json")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert "Agnes" in reply["reply"]
    assert reply["documents_mode"] == "whole"  # two short files fit the context: pasted whole
    assert [source["file_name"] for source in reply["given"]] == ["bakery.md", "light.txt"]
    # Its sources are what it cites, or (citing nothing) what is relevant: the lighthouse note.
    assert [(source["number"], source["file_name"]) for source in reply["sources"]] == [(2, "light.txt")]
    printed = slmdesk("chat", str(_smollm2_file()), "--docs", "town", "Who is the lighthouse keeper?",
                      "--temperature", "0", "--max-tokens", "40", "--context-length", "1024")
    assert "[2] light.txt, line 1: \u201cNotes on the lighthouse." in printed.stdout
    assert "bakery.md" not in printed.stdout


@pytest.mark.slow
def test_chat_with_an_adapter_answers_from_a_document_and_prints_its_citations(no_starter, tmp_path):  # noqa: F811
    """#18: "works with a fine-tuned adapter too", through the command line."""
    from slmdesk.core.library.starters import _smollm2_file
    from tests.gguf_factory import write_smollm2_lora

    folder = _notes(tmp_path)
    assert slmdesk("docs", "add", "town", str(folder)).returncode == 0
    lora = write_smollm2_lora(tmp_path / "lora.gguf")
    result = slmdesk("chat", str(_smollm2_file()), "--adapter", str(lora), "--docs", "town",
                     "Who is the lighthouse keeper?", "--temperature", "0", "--max-tokens", "40",
                     "--context-length", "1024")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    reply, _, citations = result.stdout.partition("\nNot cited, but relevant:\n")
    if not citations:  # the reply cited a number itself
        reply, _, citations = result.stdout.partition("\nSources:\n")
    assert "Agnes" in reply, result.stdout
    assert citations.startswith("[2] light.txt, line 1: \u201cNotes on the lighthouse."), result.stdout
    assert "bakery.md" not in citations
