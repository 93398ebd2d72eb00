"""Done means (#18): chat with documents works with an adapter on the model too, through the real
engine, and the reply's sources are the passage it answered from.

The adapter is a LoRA on every ffn_down of SmolLM2 135M Instruct with small random weights
(tests/gguf_factory.py, as tests/e2e/test_engine.py does for Gemma), not a trained one: training
takes minutes, and what this checks is the path, documents and an adapter in one chat, which does
not depend on what the adapter learnt. It visibly changes the reply to the question asked
without documents, so it is really applied (with the passages given, SmolLM2 answers the same
words either way: the documents pin the answer down). SmolLM2 writes
no [n] here (as in 57 of 77 bench replies), so the source shown is the passage that passed the
relevance floor; a reply that writes [2] gets the same source by its number.
"""

from __future__ import annotations

import pytest

from slmdesk.core import db
from slmdesk.core.documents.citations import reply_sources
from slmdesk.core.documents.grounding import context_budget_characters, find_grounding, grounded_messages
from slmdesk.core.documents.index import DocumentIndex
from slmdesk.core.engine.client import EngineClient
from slmdesk.paths import app_paths
from tests.document_factory import write_town_notes
from tests.gguf_factory import write_smollm2_lora

GREEDY = {"temperature": 0.0, "max_tokens": 40, "seed": 1}


def _reply(engine: EngineClient, messages: list[dict[str, str]]) -> str:
    return "".join(e["text"] for e in engine.chat(messages, GREEDY) if e["type"] == "token")


@pytest.mark.slow
def test_chat_with_documents_and_an_adapter_cites_the_passage(tmp_path):
    from slmdesk.core.library.starters import _smollm2_file

    folder = write_town_notes(tmp_path / "notes")
    conn = db.connect(app_paths().database)
    index = DocumentIndex(conn)
    collection = index.create("town", [folder])
    index.update("town")
    question = "Who is the lighthouse keeper?"
    grounding = find_grounding(conn, [collection.id], question,
                               budget_characters=context_budget_characters(1024, GREEDY["max_tokens"]))
    messages = grounded_messages([{"role": "user", "content": question}], grounding)
    ungrounded = [{"role": "user", "content": question}]
    lora = write_smollm2_lora(tmp_path / "lora.gguf")
    with EngineClient(log_path=tmp_path / "engine.log") as engine:
        plain = engine.load(_smollm2_file(), n_ctx=1024)
        assert plain["adapters"] == []
        base_guess = _reply(engine, ungrounded)
        loaded = engine.load(_smollm2_file(), n_ctx=1024, adapters=[(lora, 1.0)])
        assert loaded["adapters"] == [{"path": str(lora), "scale": 1.0}]
        reply = _reply(engine, messages)
        tuned_guess = _reply(engine, ungrounded)
    assert tuned_guess != base_guess  # the adapter is in effect
    assert "Agnes" in reply
    sources = reply_sources(reply, grounding.sources_json())
    assert [s["file_name"] for s in sources["given"]] == ["bakery.md", "light.txt"]
    # Whether the reply writes [2] or no number at all, its source is the lighthouse note only.
    assert [s["file_name"] for s in sources["sources"]] == ["light.txt"], (reply, sources["sources_basis"])
    assert sources["invented_citations"] == []
