"""Documents to training chunks: tokenize, pack, split, count.

Text is tokenized with the base model's own tokenizer (behind the small :class:`Tokenizer`
protocol, so tests can use a tiny one). Each document's tokens are followed by the end-of-sequence
token and the documents are laid end to end, then cut into windows of ``sequence_length`` tokens
that start with the beginning-of-sequence token (as every prompt does at inference) and overlap by
``overlap`` tokens, so a sentence cut at a window edge is still seen whole in the next one. Every
window is full except when the whole text is shorter than one: no padding is ever trained on.

Part of the text is held back for validation loss: whole documents when there are several (the
honest test: text the model never saw), else whole chunks, and nothing when the text is so short
that holding some back would leave facts unlearned; evaluation then uses the training text and
says so.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

CHUNKS_FILE = "chunks.jsonl"
#: Several documents: hold back whole ones. Fewer: hold back chunks.
MIN_DOCUMENTS_FOR_DOCUMENT_SPLIT = 4
#: Fewer chunks than this: hold nothing back.
MIN_CHUNKS_FOR_CHUNK_SPLIT = 5

TRAIN, VALIDATION = "train", "validation"
#: The kind of a chunk cut from a document's own text (examples carry their rule's name).
TEXT = "text"


class Tokenizer(Protocol):
    """What the dataset needs from a tokenizer."""

    bos_token_id: int | None
    eos_token_id: int | None

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens."""

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``, special tokens written out."""


class HFTokenizer:
    """A Hugging Face tokenizer seen through :class:`Tokenizer` (duck-typed: no import needed)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.bos_token_id = tokenizer.bos_token_id
        self.eos_token_id = tokenizer.eos_token_id

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        text: str = self.tokenizer.decode(list(ids), skip_special_tokens=False)
        return text


@dataclass(frozen=True)
class Chunk:
    """One training or validation window."""

    index: int
    tokens: list[int]
    document: int  # index of the document the window starts in
    split: str = TRAIN
    kind: str = TEXT  # TEXT for a window of a document, else the rule that made the example


@dataclass(frozen=True)
class DatasetStats:
    documents: int
    tokens: int  # document tokens plus one separator per document
    chunks: int
    train_chunks: int
    validation_chunks: int
    train_tokens: int
    validation_tokens: int
    sequence_length: int
    overlap: int
    split: str  # "document", "chunk" or "none" (validation then uses the training text)
    example_counts: dict[str, int] = field(default_factory=dict)  # training examples per rule
    example_tokens: int = 0
    examples_too_long: int = 0  # longer than a chunk: left out rather than cut

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TokenDataset:
    chunks: list[Chunk]
    stats: DatasetStats
    titles: list[str] = field(default_factory=list)

    @property
    def train(self) -> list[Chunk]:
        return [chunk for chunk in self.chunks if chunk.split == TRAIN]

    @property
    def validation(self) -> list[Chunk]:
        """Held-back chunks, or the training chunks when nothing could be held back."""
        held = [chunk for chunk in self.chunks if chunk.split == VALIDATION]
        return held or [chunk for chunk in self.train if chunk.kind == TEXT] or self.train

    @property
    def validation_split(self) -> str:
        return VALIDATION if any(c.split == VALIDATION for c in self.chunks) else TRAIN

    def preview(self, tokenizer: Tokenizer, count: int = 3, max_characters: int = 400) -> list[str]:
        """The text of the first chunks as the model will see it (special tokens written out)."""
        texts = []
        for chunk in [chunk for chunk in self.chunks if chunk.kind == TEXT][:count]:
            text = tokenizer.decode(chunk.tokens)
            texts.append(text if len(text) <= max_characters else text[:max_characters] + "\u2026")
        return texts

    def example_preview(self, tokenizer: Tokenizer, per_kind: int = 2,
                        max_characters: int = 400) -> list[dict[str, str]]:
        """A few generated examples of each rule, as the model will see them."""
        shown: dict[str, int] = {}
        out = []
        for chunk in self.chunks:
            if chunk.kind == TEXT or shown.get(chunk.kind, 0) >= per_kind:
                continue
            shown[chunk.kind] = shown.get(chunk.kind, 0) + 1
            text = tokenizer.decode([token_id(t) for t in chunk.tokens])
            out.append({"kind": chunk.kind, "text": text if len(text) <= max_characters
                        else text[:max_characters] + "\u2026"})
        return out

    def write_jsonl(self, path: Path) -> Path:
        """One chunk per line after a header line with the statistics; written atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.write(json.dumps({"stats": self.stats.to_dict(), "titles": self.titles}) + "\n")
            for chunk in self.chunks:
                out.write(json.dumps(asdict(chunk), separators=(",", ":")) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def read_jsonl(cls, path: Path) -> "TokenDataset":
        with Path(path).open(encoding="utf-8") as lines:
            header = json.loads(next(lines))
            chunks = [Chunk(**json.loads(line)) for line in lines if line.strip()]
        return cls(chunks, DatasetStats(**header["stats"]), header.get("titles", []))


def build_dataset(texts: Sequence[str], tokenizer: Tokenizer, *, sequence_length: int,
                  overlap: int = 0, validation_fraction: float = 0.1, seed: int = 0,
                  titles: Sequence[str] = (),
                  examples: Sequence[tuple[str, str] | tuple[str, str, str]] = ()) -> TokenDataset:
    """Tokenize ``texts`` (one per document) and cut them into chunks; see the module notes.

    ``examples`` are (rule, prompt, reply) made from the documents (questions and answers in
    the chat format; (rule, text) trains on all of the text): each is a training chunk of its
    own, so that no example sees another as context and the model must answer from what it
    learned; the prompt's tokens are marked input-only (:func:`input_only`). One longer than
    ``sequence_length`` is left out (counted in the statistics), never cut."""
    if sequence_length < 4:
        raise ValueError("sequence_length must be at least 4")
    if not 0 <= overlap < sequence_length // 2:
        raise ValueError("overlap must be less than half the sequence length")
    token_lists = [_with_separator(tokenizer.encode(text), tokenizer.eos_token_id) for text in texts]
    encoded = [(index, ids) for index, ids in enumerate(token_lists) if ids]
    total = sum(len(ids) for _, ids in encoded)
    bos = tokenizer.bos_token_id

    def cut(docs: Iterable[tuple[int, list[int]]]) -> list[tuple[int, list[int]]]:
        return _windows(docs, sequence_length, overlap, bos)

    held_docs = _held_documents(encoded, validation_fraction, seed)
    if held_docs:
        split = "document"
        train = cut([doc for doc in encoded if doc[0] not in held_docs])
        held = cut([doc for doc in encoded if doc[0] in held_docs])
        windows = [(doc, ids, TRAIN) for doc, ids in train] + [(doc, ids, VALIDATION) for doc, ids in held]
    else:
        windows = [(doc, ids, TRAIN) for doc, ids in cut(encoded)]
        held_count = (max(1, round(validation_fraction * len(windows)))
                      if validation_fraction > 0 and len(windows) >= MIN_CHUNKS_FOR_CHUNK_SPLIT else 0)
        split = "chunk" if held_count else "none"
        chosen = set(random.Random(seed).sample(range(len(windows)), held_count))
        windows = [(doc, ids, VALIDATION if i in chosen else TRAIN)
                   for i, (doc, ids, _) in enumerate(windows)]
    chunks = [Chunk(i, ids, doc, part) for i, (doc, ids, part) in enumerate(windows)]
    counts: dict[str, int] = {}
    example_tokens = dropped = 0
    for kind, *parts in examples:
        prompt, reply = parts if len(parts) == 2 else ("", parts[0])
        ids = tokenizer.encode(prompt + reply)
        if not ids:
            continue
        asked = tokenizer.encode(prompt) if prompt else []
        if asked and ids[:len(asked)] == asked:  # the question is context, never a target
            ids = [input_only(token) for token in asked] + ids[len(asked):]
        ids = ([bos] if bos is not None else []) + ids
        if len(ids) > sequence_length:  # a cut answer would teach chat to stop mid-sentence
            dropped += 1
            continue
        chunks.append(Chunk(len(chunks), ids, -1, TRAIN, kind))
        counts[kind] = counts.get(kind, 0) + 1
        example_tokens += len(chunks[-1].tokens)
    train_tokens = sum(len(c.tokens) for c in chunks if c.split == TRAIN)
    stats = DatasetStats(
        documents=len(encoded), tokens=total, chunks=len(chunks),
        train_chunks=sum(c.split == TRAIN for c in chunks),
        validation_chunks=sum(c.split == VALIDATION for c in chunks),
        train_tokens=train_tokens,
        validation_tokens=sum(len(c.tokens) for c in chunks) - train_tokens,
        sequence_length=sequence_length, overlap=overlap, split=split,
        example_counts=counts, example_tokens=example_tokens, examples_too_long=dropped)
    return TokenDataset(chunks, stats, list(titles))


def input_only(token: int) -> int:
    """``token`` marked as read but not learned (a negative id, :func:`token_id` undoes it):
    the model sees the question of an example but is trained on the answer only."""
    return -token - 2


def token_id(stored: int) -> int:
    """The real token id of a stored one (see :func:`input_only`)."""
    return stored if stored >= 0 else -stored - 2


def _with_separator(ids: list[int], eos: int | None) -> list[int]:
    if not ids:
        return ids
    return ids + [eos] if eos is not None else ids


def _held_documents(encoded: list[tuple[int, list[int]]], fraction: float, seed: int) -> set[int]:
    """Whole documents to hold back: about ``fraction`` of the tokens, never one so large that it
    would take more than twice that share, and never all of them."""
    if fraction <= 0 or len(encoded) < MIN_DOCUMENTS_FOR_DOCUMENT_SPLIT:
        return set()
    total = sum(len(ids) for _, ids in encoded)
    target = fraction * total
    order = list(encoded)
    random.Random(seed).shuffle(order)
    held: set[int] = set()
    held_tokens = 0
    for index, ids in order:
        if held_tokens >= target or len(held) == len(encoded) - 1:
            break
        if held_tokens + len(ids) <= 2 * target:
            held.add(index)
            held_tokens += len(ids)
    return held


def _windows(docs: Iterable[tuple[int, list[int]]], sequence_length: int, overlap: int,
             bos: int | None) -> list[tuple[int, list[int]]]:
    """Cut the concatenated documents into (document index, window) pairs."""
    stream: list[int] = []
    owner: list[int] = []
    for index, ids in docs:
        stream.extend(ids)
        owner.extend([index] * len(ids))
    if not stream:
        return []
    prefix = [bos] if bos is not None else []
    body = sequence_length - len(prefix)
    stride = body - overlap
    starts = list(range(0, max(1, len(stream) - body + 1), stride))
    last = max(0, len(stream) - body)
    if starts[-1] != last:
        starts.append(last)  # the tail: a full window ending at the end, overlapping more
    return [(owner[start], prefix + stream[start:start + body]) for start in starts]
