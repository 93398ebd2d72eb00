"""The GGUF header reader: the real starter model, tiny generated models, and every way a file can be bad."""

from __future__ import annotations

import json
import os
import random
import struct
import time
from pathlib import Path

import pytest

from slmdesk.core.gguf.info import (
    GGUFError,
    ModelInfo,
    format_bytes,
    format_parameter_count,
    read_model_info,
)
from tests.gguf_factory import (
    ARCHITECTURES,
    TINY_BLOCK_COUNT,
    TINY_CHAT_TEMPLATE,
    TINY_CONTEXT_LENGTH,
    TINY_EMBEDDING_LENGTH,
    TINY_HEAD_COUNT,
    TINY_HEAD_COUNT_KV,
    TINY_SLIDING_WINDOW,
    TINY_VOCAB,
    tiny_adapter_parameter_count,
    tiny_adapter_tensor_count,
    tiny_model_parameter_count,
    tiny_model_tensor_count,
    write_tiny_adapter,
    write_tiny_model,
)

HUGE = 1 << 60


def _copy_prefix(source: Path, target: Path, n_bytes: int) -> Path:
    with open(source, "rb") as src, open(target, "wb") as dst:
        remaining = n_bytes
        while remaining:
            block = src.read(min(remaining, 1 << 22))
            dst.write(block)
            remaining -= len(block)
    return target


def _patched(source: Path, target: Path, offset: int, new_bytes: bytes) -> Path:
    data = bytearray(source.read_bytes())
    data[offset:offset + len(new_bytes)] = new_bytes
    target.write_bytes(bytes(data))
    return target


def _expect_error(path: Path, reason: str, *phrases: str) -> GGUFError:
    with pytest.raises(GGUFError) as caught:
        read_model_info(path)
    err = caught.value
    assert err.reason == reason, str(err)
    assert err.path == Path(path)
    for phrase in phrases:
        assert phrase in str(err), str(err)
    return err


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return write_tiny_model(tmp_path / "tiny.gguf", chat_template=TINY_CHAT_TEMPLATE)


# -- the real starter model ------------------------------------------------------------------------


@pytest.mark.slow
def test_starter_model_header(starter_model_path: Path) -> None:
    started = time.perf_counter()
    info = read_model_info(starter_model_path)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0, f"reading the header took {elapsed:.2f} s"
    assert info.architecture == "gemma3"
    assert info.quantization == "Q4_K_M"
    assert 260e6 < info.parameter_count < 275e6
    assert info.context_length == 32768
    assert info.chat_template is None and not info.has_chat_template
    assert info.kind == "model" and not info.is_adapter
    assert info.gguf_version == 3
    assert info.file_size == starter_model_path.stat().st_size
    assert 0 < info.tensor_bytes < info.file_size
    assert info.vocab_size == 262144
    assert info.metadata["tokenizer.ggml.tokens"] == "[array of 262144 string]"
    assert info.block_count == 18 and info.head_count_kv == 1 and info.sliding_window == 512
    assert dict(info.header_fields())["Parameters"] == "268 M"


def _starter_cut_points(starter: Path) -> dict[str, int]:
    """Offsets that land in each part of the starter file, found from its own layout."""
    size = starter.stat().st_size
    tensor_bytes = read_model_info(starter).tensor_bytes
    with open(starter, "rb") as stream:
        head = stream.read(size - tensor_bytes)
    first_tensor_info = head.index(b"token_embd.weight")
    return {
        "inside magic": 2,
        "inside version": 6,
        "inside kv count": 20,
        "inside first key": 40,
        "inside metadata": 400,
        "inside vocabulary": 2_000_000,
        "inside tensor infos": first_tensor_info + 30,
        "just before tensor data": size - tensor_bytes - 1,
        "inside tensor data": size // 2,
        "last byte missing": size - 1,
    }


@pytest.mark.slow
@pytest.mark.parametrize("where", [
    "inside magic", "inside version", "inside kv count", "inside first key", "inside metadata",
    "inside vocabulary", "inside tensor infos", "just before tensor data", "inside tensor data",
    "last byte missing",
])
def test_truncated_starter_model(starter_model_path: Path, tmp_path: Path, where: str) -> None:
    cut = _starter_cut_points(starter_model_path)[where]
    truncated = _copy_prefix(starter_model_path, tmp_path / "cut.gguf", cut)

    err = _expect_error(truncated, "truncated", "is incomplete", "get the file again")
    if where == "inside tensor data":
        assert "the file stops at 126.6 MB but its tensors need 253.1 MB" in str(err)


# -- tiny generated models -------------------------------------------------------------------------


@pytest.mark.parametrize("quantized", [False, True], ids=["f32", "q8_0"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_tiny_model_fields(tmp_path: Path, architecture: str, quantized: bool) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", architecture=architecture, quantized=quantized,
                            chat_template=TINY_CHAT_TEMPLATE)
    info = read_model_info(path)

    assert info.path == path
    assert info.file_size == path.stat().st_size
    assert info.gguf_version == 3
    assert info.kind == "model" and not info.is_adapter
    assert info.display_name == "Tiny Test Model"
    assert info.architecture == architecture
    assert info.parameter_count == tiny_model_parameter_count()
    assert info.quantization == ("Q8_0" if quantized else "F32")
    assert info.context_length == TINY_CONTEXT_LENGTH
    assert info.block_count == TINY_BLOCK_COUNT
    assert info.embedding_length == TINY_EMBEDDING_LENGTH
    assert info.head_count == TINY_HEAD_COUNT
    assert info.head_count_kv == TINY_HEAD_COUNT_KV
    assert info.key_length == info.value_length == TINY_EMBEDDING_LENGTH // TINY_HEAD_COUNT
    assert info.sliding_window == (TINY_SLIDING_WINDOW if architecture == "gemma3" else None)
    assert info.chat_template == TINY_CHAT_TEMPLATE and info.has_chat_template
    assert info.license == "apache-2.0"
    assert info.adapter_type is None and info.lora_alpha is None
    assert info.tensor_count == tiny_model_tensor_count()
    assert info.vocab_size == len(TINY_VOCAB)
    assert info.metadata["general.architecture"] == architecture
    assert info.metadata["tokenizer.ggml.tokens"] == f"[array of {len(TINY_VOCAB)} string]"


def test_tiny_model_agrees_with_gguf_reader(tmp_path: Path) -> None:
    """Cross-check against the reference reader, which is fine (and fast) on a tiny file."""
    from gguf import GGUFReader

    path = write_tiny_model(tmp_path / "m.gguf", quantized=True, chat_template=TINY_CHAT_TEMPLATE)
    info = read_model_info(path)
    reference = GGUFReader(path)

    assert info.tensor_count == len(reference.tensors)
    assert info.parameter_count == sum(int(t.n_elements) for t in reference.tensors)
    assert info.tensor_bytes == sum(int(t.n_bytes) for t in reference.tensors)
    assert set(info.metadata) == {key for key in reference.fields if not key.startswith("GGUF.")}
    assert info.metadata["tokenizer.chat_template"] == reference.fields["tokenizer.chat_template"].contents()


def test_quantization_inferred_from_tensors_without_file_type(tmp_path: Path) -> None:
    f32 = read_model_info(write_tiny_model(tmp_path / "a.gguf", declare_file_type=False))
    q8 = read_model_info(write_tiny_model(tmp_path / "b.gguf", declare_file_type=False, quantized=True))
    assert (f32.quantization, q8.quantization) == ("F32", "Q8_0")


def test_minimal_model_falls_back_to_file_name(tmp_path: Path) -> None:
    info = read_model_info(write_tiny_model(tmp_path / "bare-model.gguf", name=None, license=None,
                                            with_vocab=False))
    assert info.display_name == "bare-model"
    assert info.vocab_size is None and info.chat_template is None and info.license is None
    rows = dict(info.header_fields())
    assert rows["Chat template"] == "none" and rows["License"] == "not stated"
    assert "Vocabulary" not in rows


def test_adapter_is_recognised(tmp_path: Path) -> None:
    info = read_model_info(write_tiny_adapter(tmp_path / "style-lora.gguf", lora_alpha=32.0))
    assert info.kind == "adapter" and info.is_adapter
    assert info.adapter_type == "lora" and info.lora_alpha == 32.0
    assert info.parameter_count == tiny_adapter_parameter_count()
    assert info.tensor_count == tiny_adapter_tensor_count()
    assert info.quantization == "F32"
    assert dict(info.header_fields())["Kind"] == "LoRA adapter"


def test_dict_round_trip_through_json(tiny_model: Path) -> None:
    info = read_model_info(tiny_model)
    rebuilt = ModelInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert rebuilt == info
    assert isinstance(rebuilt.path, Path)


def test_header_fields_are_readable(tiny_model: Path) -> None:
    rows = dict(read_model_info(tiny_model).header_fields())
    assert rows["Architecture"] == "llama"
    assert rows["Parameters"] == "5.98 K"
    assert rows["Quantization"] == "F32"
    assert rows["Context length"] == "256"
    assert rows["Layers"] == str(TINY_BLOCK_COUNT)
    assert rows["Chat template"] == "embedded"
    assert rows["License"] == "apache-2.0"
    assert rows["Kind"] == "Model"
    assert rows["File size"].endswith("KB")
    assert all(isinstance(value, str) for value in rows.values())


@pytest.mark.parametrize("count, text", [
    (268_098_176, "268 M"), (1_240_000_000, "1.24 B"), (7_000_000_000, "7 B"), (999_700_000, "1 B"),
    (12_500_000, "12.5 M"), (950, "950"), (0, "0"),
])
def test_format_parameter_count(count: int, text: str) -> None:
    assert format_parameter_count(count) == text


@pytest.mark.parametrize("size, text", [
    (253_000_000, "253 MB"), (1_500_000_000, "1.5 GB"), (2_048, "2.05 KB"), (512, "512 bytes"), (0, "0 bytes"),
])
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text


# -- files that are not (whole, valid) models ------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.touch()
    _expect_error(empty, "empty", "is empty (0 bytes)")


@pytest.mark.parametrize("content, hint", [
    (b"hello, this is just some text\n" * 10, None),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 253113024\n", "Git LFS pointer"),
    (b"PK\x03\x04" + bytes(100), "ZIP archive"),
    (struct.pack("<Q", 64) + b'{"__metadata__": {}}' + bytes(60), "safetensors"),
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "web page"),
])
def test_not_a_gguf_file(tmp_path: Path, content: bytes, hint: str | None) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    err = _expect_error(path, "not_gguf", "is not a GGUF model file (it does not start with 'GGUF')")
    if hint:
        assert hint in str(err)


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "models.gguf"
    folder.mkdir()
    _expect_error(folder, "directory", "is a folder, not a model file")


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nowhere.gguf", "missing", "Cannot read", "does not exist")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read any file, so permissions cannot be tested")
def test_permission_denied(tiny_model: Path) -> None:
    tiny_model.chmod(0)
    try:
        _expect_error(tiny_model, "unreadable", "Cannot read", "permission denied")
    finally:
        tiny_model.chmod(0o644)


@pytest.mark.parametrize("version_bytes, phrase", [
    (struct.pack("<I", 1), "version 1"),
    (struct.pack("<I", 4), "version 4"),
    (struct.pack(">I", 3), "big-endian"),
])
def test_unsupported_version(tiny_model: Path, tmp_path: Path, version_bytes: bytes, phrase: str) -> None:
    path = _patched(tiny_model, tmp_path / "v.gguf", 4, version_bytes)
    _expect_error(path, "unsupported_version", phrase)


def test_huge_kv_count(tiny_model: Path, tmp_path: Path) -> None:
    path = _patched(tiny_model, tmp_path / "kv.gguf", 16, struct.pack("<Q", HUGE))
    _expect_error(path, "absurd_counts", f"claims {HUGE} metadata entries, more than a file of",
                  "the file is damaged")


def test_huge_tensor_count(tiny_model: Path, tmp_path: Path) -> None:
    path = _patched(tiny_model, tmp_path / "tc.gguf", 8, struct.pack("<Q", HUGE))
    _expect_error(path, "absurd_counts", f"claims {HUGE} tensors")


def test_huge_array_length(tiny_model: Path, tmp_path: Path) -> None:
    key = b"tokenizer.ggml.tokens"
    count_offset = tiny_model.read_bytes().index(key) + len(key) + 4 + 4  # after value type and item type
    path = _patched(tiny_model, tmp_path / "arr.gguf", count_offset, struct.pack("<Q", HUGE))
    _expect_error(path, "absurd_counts", f"claims {HUGE} elements", "tokenizer.ggml.tokens")


def test_huge_string_length(tiny_model: Path, tmp_path: Path) -> None:
    path = _patched(tiny_model, tmp_path / "str.gguf", 24, struct.pack("<Q", HUGE))  # first key's length
    _expect_error(path, "absurd_counts", f"a text of {HUGE} bytes")


def test_implausible_count_in_a_large_file(tiny_model: Path, tmp_path: Path) -> None:
    """A count that would fit in a big (here sparse) file is still rejected before looping over it."""
    path = _patched(tiny_model, tmp_path / "big.gguf", 16, struct.pack("<Q", 1 << 22))
    with open(path, "r+b") as stream:
        stream.truncate(64 << 20)
    _expect_error(path, "absurd_counts", "far more than any real model has")


def test_truncated_tiny_model_data_shows_exact_sizes_when_close(tiny_model: Path, tmp_path: Path) -> None:
    """One missing byte would read "stops at 26.0 KB but needs 26.0 KB"; exact counts say more."""
    size = tiny_model.stat().st_size
    path = _copy_prefix(tiny_model, tmp_path / "cut.gguf", size - 1)
    _expect_error(path, "truncated", f"the file stops at {size - 1:,} bytes", f"need {size:,} bytes")


def _tensor_info_offset(path: Path, name: bytes = b"token_embd.weight") -> int:
    """Offset of the n_dims field of a tensor's info (its name appears only in the tensor table)."""
    return path.read_bytes().index(name) + len(name)


@pytest.mark.parametrize("field_offset, value, phrase", [
    (0, struct.pack("<I", 5), "5 dimensions"),
    (4, struct.pack("<Q", 0), "impossible shape"),
    (4 + 16, struct.pack("<I", 99), "unknown number format (99)"),
    (4 + 16 + 4, struct.pack("<Q", 4), "starts at byte 4"),
    (4 + 16 + 4, struct.pack("<Q", 1 << 40), "starts at byte"),
], ids=["too-many-dims", "zero-dim", "unknown-type", "unaligned-offset", "offset-past-file"])
def test_corrupt_tensor_info(tiny_model: Path, tmp_path: Path, field_offset: int, value: bytes,
                             phrase: str) -> None:
    position = _tensor_info_offset(tiny_model) + field_offset
    path = _patched(tiny_model, tmp_path / "bad.gguf", position, value)
    _expect_error(path, "corrupt", "is damaged", phrase)


def test_unknown_metadata_value_type(tiny_model: Path, tmp_path: Path) -> None:
    key = b"general.architecture"
    position = tiny_model.read_bytes().index(key) + len(key)
    path = _patched(tiny_model, tmp_path / "vt.gguf", position, struct.pack("<I", 77))
    _expect_error(path, "corrupt", "unknown kind of value")


def test_random_header_damage_never_escapes_as_another_error(tmp_path: Path) -> None:
    """Flip bytes in the header of a tiny model: the reader either copes or raises GGUFError, fast."""
    source = write_tiny_model(tmp_path / "src.gguf", quantized=True, chat_template=TINY_CHAT_TEMPLATE)
    original = source.read_bytes()
    header_size = len(original) - read_model_info(source).tensor_bytes
    rng = random.Random(1234)
    damaged = tmp_path / "damaged.gguf"
    outcomes = {"ok": 0, "error": 0}
    started = time.perf_counter()
    for _ in range(200):
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(header_size)] = rng.randrange(256)
        damaged.write_bytes(bytes(data))
        try:
            read_model_info(damaged)
            outcomes["ok"] += 1
        except GGUFError as err:
            assert err.reason in {"not_gguf", "unsupported_version", "truncated", "corrupt", "absurd_counts"}
            assert str(err)
            outcomes["error"] += 1
    assert time.perf_counter() - started < 10
    assert outcomes["error"] > 0


def _header_with_keys(keys: list[bytes]) -> bytes:
    """A GGUF header of one-byte metadata entries and no tensors."""
    entries = b"".join(struct.pack("<Q", len(key)) + key + struct.pack("<IB", 0, 1) for key in keys)
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(keys)) + entries + bytes(64)


def test_more_metadata_entries_than_any_model_are_refused_before_they_are_built(tmp_path: Path) -> None:
    """70,000 entries of a few bytes each: read one by one they would cost memory many times the file."""
    path = tmp_path / "many.gguf"
    path.write_bytes(_header_with_keys([b"k%d" % i for i in range(70_000)]))
    _expect_error(path, "absurd_counts", "claims 70000 metadata entries, far more than any real model has")


def test_a_metadata_name_too_long_to_be_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long-key.gguf"
    path.write_bytes(_header_with_keys([b"general.architecture", b"x" * 5000]))
    _expect_error(path, "corrupt", "its metadata names are garbled")
