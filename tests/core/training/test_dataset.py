"""Text to training chunks: packing, overlap, separators, splits, statistics, the chunks file."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmdesk.core.training.dataset import (
    CHUNKS_FILE,
    TRAIN,
    VALIDATION,
    HFTokenizer,
    TokenDataset,
    build_dataset,
    input_only,
    token_id,
)

NOTE = Path(__file__).parent / "data" / "family_note.txt"


class WordTokenizer:
    """A tiny real tokenizer: one id per whitespace-separated word, ids given on first sight."""

    bos_token_id = 1
    eos_token_id = 2

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"<bos>": 1, "<eos>": 2}

    def encode(self, text: str) -> list[int]:
        return [self.ids.setdefault(word, len(self.ids) + 1) for word in text.split()]

    def decode(self, ids) -> str:
        words = {i: w for w, i in self.ids.items()}
        return " ".join(words[i] for i in ids)


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_windows_are_full_overlapping_and_start_with_bos():
    tok = WordTokenizer()
    data = build_dataset([words(100)], tok, sequence_length=20, overlap=4, validation_fraction=0)
    chunks = data.chunks
    assert all(len(c.tokens) == 20 and c.tokens[0] == tok.bos_token_id for c in chunks)
    stream = tok.encode(words(100)) + [tok.eos_token_id]
    # consecutive windows share exactly `overlap` tokens, except the tail window which ends
    # exactly at the end of the text (and may overlap more)
    bodies = [c.tokens[1:] for c in chunks]
    for a, b in zip(bodies[:-2], bodies[1:-1]):
        assert a[-4:] == b[:4]
    assert bodies[-1] == stream[-19:]
    covered = set()
    for body in bodies:
        start = stream.index(body[0])
        covered.update(range(start, start + len(body)))
    assert covered == set(range(len(stream)))  # every token is trained on
    assert data.stats.tokens == 101 and data.stats.chunks == len(chunks)


def test_documents_are_separated_by_eos_and_packed_across_boundaries():
    tok = WordTokenizer()
    data = build_dataset([words(5, "a"), words(5, "b")], tok, sequence_length=32, overlap=0,
                         validation_fraction=0)
    assert len(data.chunks) == 1  # both fit in one window: packed, no padding
    text = tok.decode(data.chunks[0].tokens)
    assert text == "<bos> " + words(5, "a") + " <eos> " + words(5, "b") + " <eos>"
    assert data.stats.documents == 2 and data.stats.tokens == 12


def test_short_text_makes_one_short_chunk_and_holds_nothing_back():
    tok = WordTokenizer()
    data = build_dataset([words(10)], tok, sequence_length=64, overlap=8, validation_fraction=0.2)
    assert [len(c.tokens) for c in data.chunks] == [12]  # bos + 10 + eos, not padded to 64
    assert data.stats.split == "none" and data.validation_split == TRAIN
    assert data.validation == data.train  # evaluation falls back to the training text


def test_one_long_document_is_split_by_chunk():
    tok = WordTokenizer()
    data = build_dataset([words(1000)], tok, sequence_length=50, overlap=5,
                         validation_fraction=0.1, seed=3)
    stats = data.stats
    assert stats.split == "chunk"
    assert stats.validation_chunks == round(0.1 * stats.chunks)
    assert stats.train_chunks + stats.validation_chunks == stats.chunks
    assert {c.split for c in data.validation} == {VALIDATION}
    again = build_dataset([words(1000)], WordTokenizer(), sequence_length=50, overlap=5,
                          validation_fraction=0.1, seed=3)
    assert [c.split for c in again.chunks] == [c.split for c in data.chunks]  # seeded


def test_several_documents_are_split_by_document():
    tok = WordTokenizer()
    texts = [words(200, f"d{i}_") for i in range(8)]
    data = build_dataset(texts, tok, sequence_length=64, overlap=8, validation_fraction=0.15,
                         seed=1)
    assert data.stats.split == "document"
    held = {c.document for c in data.chunks if c.split == VALIDATION}
    trained = {c.document for c in data.chunks if c.split == TRAIN}
    assert held and trained and not held & trained  # no document is on both sides
    share = data.stats.validation_tokens / (data.stats.train_tokens + data.stats.validation_tokens)
    assert 0.05 < share < 0.35


def test_empty_documents_are_ignored_and_bad_settings_refused():
    tok = WordTokenizer()
    data = build_dataset(["", words(3)], tok, sequence_length=16, validation_fraction=0)
    assert data.stats.documents == 1
    with pytest.raises(ValueError, match="overlap"):
        build_dataset([words(3)], tok, sequence_length=16, overlap=8)


def test_preview_and_chunks_file_round_trip(tmp_path):
    tok = WordTokenizer()
    data = build_dataset([words(300)], tok, sequence_length=40, overlap=4, validation_fraction=0.1,
                         titles=["Notes"])
    preview = data.preview(tok, count=2)
    assert len(preview) == 2 and preview[0].startswith("<bos> w0 w1")
    path = data.write_jsonl(tmp_path / CHUNKS_FILE)
    loaded = TokenDataset.read_jsonl(path)
    assert loaded.chunks == data.chunks and loaded.stats == data.stats
    assert loaded.titles == ["Notes"]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
def test_real_starter_tokenizer(cached_training_base, starter_model_path):
    from transformers import AutoTokenizer

    from slmdesk.core.training.base_model import cache_dir_for

    tok = HFTokenizer(AutoTokenizer.from_pretrained(cache_dir_for(starter_model_path)))
    assert (tok.bos_token_id, tok.eos_token_id) == (2, 1)  # Gemma's <bos> and <eos>
    text = NOTE.read_text(encoding="utf-8")
    data = build_dataset([text], tok, sequence_length=256, overlap=32, validation_fraction=0.1)
    assert 200 <= data.stats.tokens <= 300  # the one-page note is about 250 tokens
    assert data.stats.chunks == 1 and data.stats.split == "none"
    assert data.preview(tok, max_characters=10_000)[0] == "<bos>" + text + "<eos>"
    assert len(data.preview(tok)[0]) == 401  # cut at 400 characters and an ellipsis
    small = build_dataset([text], tok, sequence_length=64, overlap=8, validation_fraction=0.2)
    assert small.stats.split == "chunk" and small.stats.validation_chunks == 1
    assert all(len(c.tokens) == 64 for c in small.chunks)


def test_examples_are_training_chunks_of_their_own_with_counts():
    tok = WordTokenizer()
    data = build_dataset([words(30)], tok, sequence_length=16, overlap=2, validation_fraction=0.1,
                         examples=[("ask_span", "q1 a1"), ("ask_span", "q2 a2 " + words(40, "x")),
                                   ("notes_about", "q3 a3"), ("notes_about", "")])
    examples = [chunk for chunk in data.chunks if chunk.kind != "text"]
    assert [chunk.tokens[0] for chunk in examples] == [1, 1]  # each starts with <bos>
    assert [len(chunk.tokens) for chunk in examples] == [3, 3]  # the too-long one left out
    assert all(chunk.split == TRAIN and chunk.document == -1 for chunk in examples)
    assert data.stats.example_counts == {"ask_span": 1, "notes_about": 1}
    assert data.stats.example_tokens == 6 and data.stats.examples_too_long == 1
    assert data.stats.train_tokens == sum(len(c.tokens) for c in data.train)
    # Validation never measures the examples (it is the documents' own text), nor does the preview.
    assert all(chunk.kind == "text" for chunk in data.validation)
    assert all("q1" not in text for text in data.preview(tok, count=10))
    shown = data.example_preview(tok, per_kind=1)
    assert [item["kind"] for item in shown] == ["ask_span", "notes_about"]
    assert shown[0]["text"] == "<bos> q1 a1"


def test_the_question_of_an_example_is_read_but_not_learned():
    tok = WordTokenizer()
    data = build_dataset([words(5)], tok, sequence_length=16,
                         examples=[("ask_span", "<q> where is anna? <a> ", "tromso . <end>")])
    (example,) = [chunk for chunk in data.chunks if chunk.kind == "ask_span"]
    stored = example.tokens
    assert stored[0] == 1  # <bos>
    assert all(t < 0 for t in stored[1:6]) and all(t >= 0 for t in stored[6:])
    assert tok.decode([token_id(t) for t in stored]) == "<bos> <q> where is anna? <a> tromso . <end>"
    assert data.example_preview(tok)[0]["text"].endswith("tromso . <end>")
    assert input_only(7) < -1 and token_id(input_only(7)) == 7 and token_id(7) == 7
