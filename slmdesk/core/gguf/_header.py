"""The bounded walk over a GGUF header that :mod:`slmdesk.core.gguf.info` is built on.

Every count and length in a header is a claim by the file, so each one is checked against the bytes
left in the file *before* anything is allocated or looped over, and arrays we do not need (the
vocabulary) are stepped over by their lengths. This module is that byte-level reader and nothing
more: it yields the raw metadata, the lengths of its arrays and the tensor list, and turns every
problem into a :class:`GGUFError`. It is kept apart from ``gguf_info`` so the format's many checks
do not bury what the app makes of a header (:class:`~slmdesk.core.gguf.info.ModelInfo`); import
from ``gguf_info``, which re-exports :class:`GGUFError`. The checks on tensor offsets mirror
``gguf_init_from_file`` in ggml, so a file that passes here should load in llama.cpp.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO, Callable, NamedTuple, TypeVar

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType, Keys

from slmdesk.core.errors import SlmdeskError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_TENSOR_DIMS = 4
SHORT_ARRAY_LIMIT = 16  # arrays up to this many elements are kept in ``metadata`` as lists
MAX_KEPT_STRING_BYTES = 1 << 20  # longer strings (e.g. an embedded tokenizer.json) are summarised
MAX_KEPT_TEXT_BYTES = 16 << 20  # all kept text together; real headers keep well under 1 MiB
MAX_KEY_BYTES = 1024  # metadata names are like "tokenizer.ggml.tokens"
MAX_TENSOR_NAME_BYTES = 1024  # ggml allows 63; anything this long is damage, not a name

# Counts beyond these are never real, whatever the file size; below them, a count that does not fit
# in the rest of the file most likely means the file was cut short (a truncated download).
# Real models have tens of metadata entries and a few thousand tensors; a crafted header with
# a million entries of a few bytes each (a 20 MB file) took 90 MB and seconds to read.
PLAUSIBLE_KV_COUNT = 1 << 16
PLAUSIBLE_TENSOR_COUNT = 1 << 17
PLAUSIBLE_STRING_ARRAY_LENGTH = 1 << 24  # we walk these one by one, so they bound our run time
PLAUSIBLE_ARRAY_LENGTH = 1 << 40
PLAUSIBLE_STRING_BYTES = 1 << 30

_READ_CHUNK = 1 << 20
#: Decimal size units, largest first; ``gguf_info.format_bytes`` uses them too.
BYTE_UNITS = [(10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "KB")]
#: Stands in ``metadata`` for a string too long to keep (see MAX_KEPT_STRING_BYTES).
UNLOADED_TEXT = "[long text, not loaded]"

_SCALAR_FORMATS = {int(GGUFValueType[name]): struct.Struct("<" + code) for name, code in [
    ("UINT8", "B"), ("INT8", "b"), ("UINT16", "H"), ("INT16", "h"), ("UINT32", "I"), ("INT32", "i"),
    ("FLOAT32", "f"), ("BOOL", "?"), ("UINT64", "Q"), ("INT64", "q"), ("FLOAT64", "d")]}
_U32 = struct.Struct("<I")
_T = TypeVar("_T")
_U64 = struct.Struct("<Q")
_VALUE_TYPE_NAMES = {int(t): t.name.lower() for t in GGUFValueType}
# ggml type id -> (name, elements per block, bytes per block)
_TENSOR_TYPES = {int(t): (t.name, *GGML_QUANT_SIZES[t]) for t in GGMLQuantizationType if t in GGML_QUANT_SIZES}


class TensorEntry(NamedTuple):
    """One tensor as the header describes it; its weights are never read."""

    name: str
    type_name: str  # ggml type, e.g. "Q4_K"
    elements: int
    nbytes: int
    offset: int  # from the start of the tensor data, which begins aligned after the header
    dims: tuple[int, ...]  # in GGUF order: the length of a row first


class GGUFError(SlmdeskError):
    """One error type for every invalid input; ``str(err)`` is a sentence a non-programmer understands.

    Attributes:
        path: the file that was being read.
        reason: short machine tag: 'directory', 'missing', 'unreadable', 'empty', 'not_gguf',
            'unsupported_version', 'truncated', 'corrupt' or 'absurd_counts'; the library adds
            'not_loadable' for a readable header llama.cpp would refuse
            (:attr:`~slmdesk.core.gguf.info.ModelInfo.not_loadable_reason`).
    """

    def __init__(self, path: Path, reason: str, message: str, detail: str = "") -> None:
        super().__init__(message, detail)
        self.path = path
        self.reason = reason


def shown(text: str, limit: int = 60) -> str:
    """A name from the file (a metadata key, a tensor name) as it may appear in a message: control
    characters, which could garble a terminal, become "?", and a long name is cut short."""
    text = "".join(char if char.isprintable() else "?" for char in text[:limit + 1])
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _format_size_one_decimal(n: int) -> str:
    """Sizes in error messages keep one decimal ("126.0 MB") so two nearby sizes stay distinguishable."""
    return next((f"{n / scale:.1f} {unit}" for scale, unit in BYTE_UNITS if n >= scale), f"{n} bytes")


def read_header(path: Path, read: Callable[[HeaderParser], _T]) -> _T:
    """Open ``path`` and run ``read`` on a parser over it, turning every failure into a :class:`GGUFError`."""
    name = f'"{shown(path.name, 200)}"'
    if path.is_dir():
        raise GGUFError(path, "directory", f"{name} is a folder, not a model file.")
    try:
        with open(path, "rb") as stream:
            file_size = os.fstat(stream.fileno()).st_size
            if file_size == 0:
                raise GGUFError(path, "empty", f"{name} is empty (0 bytes); it is not a model file.")
            return read(HeaderParser(path, stream, file_size))
    except FileNotFoundError:
        raise GGUFError(path, "missing", f"Cannot read {path}: the file does not exist "
                        "(it may have been moved, renamed or deleted).") from None
    except PermissionError:
        raise GGUFError(path, "unreadable", f"Cannot read {path}: permission denied.") from None
    except OSError as exc:
        raise GGUFError(path, "unreadable", f"Cannot read {path}: {exc.strerror or exc}.") from exc


def _not_gguf_hint(start: bytes) -> str:
    """Name the common look-alikes users download by mistake, so they know what to fetch instead."""
    if start.startswith(b"version https://git-lfs"):
        return " This looks like a Git LFS pointer, not the model itself; download the real file."
    if start.startswith(b"PK\x03\x04"):
        return " This looks like a ZIP archive (or a PyTorch checkpoint); a GGUF file is needed."
    if len(start) >= 9 and start[8:9] == b"{":
        return (" This looks like a safetensors file (used by Hugging Face Transformers); "
                "a GGUF conversion of the model is needed.")
    if start[:4] in (b"lmgg", b"fmgg", b"tjgg"):
        return " This is an old GGML-format model; look for a GGUF version of it."
    if start.lstrip()[:1] == b"<":
        return " This looks like a web page, perhaps an error page saved instead of the download."
    return ""


class HeaderParser:
    """Walks one file's header through a read-ahead buffer, checking every claim against the file size."""

    def __init__(self, path: Path, stream: BinaryIO, file_size: int) -> None:
        self.path, self.stream, self.file_size = path, stream, file_size
        self.name = f'"{shown(path.name, 200)}"'
        self.buffer, self.buffer_start, self.pos = b"", 0, 0
        self.version = 0
        self.kept_text = 0  # bytes of strings kept so far (MAX_KEPT_TEXT_BYTES)

    # -- low-level reading -------------------------------------------------------------------------

    def _ensure(self, n: int) -> None:
        """Make bytes [pos, pos + n) available in the buffer, or report the file as cut short."""
        offset = self.pos - self.buffer_start
        if 0 <= offset and offset + n <= len(self.buffer):
            return
        if self.pos + n > self.file_size:
            raise self._truncated_in_header()
        self.stream.seek(self.pos)
        self.buffer, self.buffer_start = self.stream.read(max(n, _READ_CHUNK)), self.pos
        if len(self.buffer) < n:  # the file shrank while we were reading it
            raise self._truncated_in_header()

    def _unpack(self, fmt: struct.Struct) -> Any:
        self._ensure(fmt.size)
        (value,) = fmt.unpack_from(self.buffer, self.pos - self.buffer_start)
        self.pos += fmt.size
        return value

    def _read_string(self, what: str) -> str | None:
        """Read one length-prefixed UTF-8 string; None (and skipped) if it is too long to keep, or the
        header has already kept MAX_KEPT_TEXT_BYTES of text."""
        length = self._unpack(_U64)
        self._check_fits(length, 1, PLAUSIBLE_STRING_BYTES, f"a text of {length} bytes in {what}")
        if length > MAX_KEPT_STRING_BYTES or self.kept_text + length > MAX_KEPT_TEXT_BYTES:
            self.pos += length
            return None
        self.kept_text += length
        self._ensure(length)
        start = self.pos - self.buffer_start
        self.pos += length
        return self.buffer[start:start + length].decode("utf-8", errors="replace")

    def _skip_strings(self, count: int, what: str) -> None:
        """Step over ``count`` strings by their lengths alone: the fast path for vocabularies."""
        unpack, file_size = _U64.unpack_from, self.file_size
        for _ in range(count):
            self._ensure(8)
            (length,) = unpack(self.buffer, self.pos - self.buffer_start)
            self.pos += 8
            if length > file_size - self.pos:
                self._check_fits(length, 1, PLAUSIBLE_STRING_BYTES, f"a text of {length} bytes in {what}")
            self.pos += length

    def _check_fits(self, count: int, min_item_bytes: int, plausible: int, claim: str) -> None:
        """Reject a count before it is used: absurd if no real file has it, truncated if it just ran out."""
        remaining = self.file_size - self.pos
        if count > plausible:
            if count * min_item_bytes > remaining:
                raise GGUFError(self.path, "absurd_counts", f"{self.name} claims {claim}, more than a file "
                                f"of {_format_size_one_decimal(self.file_size)} can hold; the file is damaged.")
            raise GGUFError(self.path, "absurd_counts",
                            f"{self.name} claims {claim}, far more than any real model has; the file is damaged.")
        if count * min_item_bytes > remaining:
            raise self._truncated_in_header()

    def _truncated_in_header(self) -> GGUFError:
        return GGUFError(self.path, "truncated", f"{self.name} is incomplete: the file stops at "
                         f"{_format_size_one_decimal(self.file_size)}, partway through its header. "
                         "The download or copy probably stopped early; get the file again.")

    def _corrupt(self, detail: str) -> GGUFError:
        return GGUFError(self.path, "corrupt", f"{self.name} is damaged: {detail}. Get the file again.")

    # -- the format --------------------------------------------------------------------------------

    def parse_header(self) -> tuple[dict[str, Any], dict[str, int], list[TensorEntry]]:
        """Metadata, the lengths of its arrays and the tensor list, all checked against the file."""
        self._check_magic_and_version()
        tensor_count = self._unpack(_U64)
        self._check_fits(tensor_count, 24, PLAUSIBLE_TENSOR_COUNT, f"{tensor_count} tensors")
        kv_count = self._unpack(_U64)
        self._check_fits(kv_count, 13, PLAUSIBLE_KV_COUNT, f"{kv_count} metadata entries")
        metadata: dict[str, Any] = {}
        array_lengths: dict[str, int] = {}
        for _ in range(kv_count):
            key = self._read_string("a metadata name")
            if key is None or len(key) > MAX_KEY_BYTES or key in metadata:
                raise self._corrupt("its metadata names are garbled")
            metadata[key] = self._read_value(self._unpack(_U32), key, array_lengths, depth=0)
        alignment = metadata.get(Keys.General.ALIGNMENT, DEFAULT_ALIGNMENT)
        if type(alignment) is not int or alignment <= 0 or alignment & (alignment - 1):
            raise self._corrupt(f"its data alignment ({alignment!r}) is not a power of two")
        tensors = self._read_tensor_infos(tensor_count, alignment)
        data_start = -(-self.pos // alignment) * alignment
        self._check_tensors_fit(tensors, data_start)
        return metadata, array_lengths, tensors

    def _check_magic_and_version(self) -> None:
        start = self.stream.read(64)
        if not start.startswith(GGUF_MAGIC):
            if GGUF_MAGIC.startswith(start):  # only part of the magic is there
                raise self._truncated_in_header()
            raise GGUFError(self.path, "not_gguf", f"{self.name} is not a GGUF model file "
                            f"(it does not start with 'GGUF').{_not_gguf_hint(start)}")
        self.pos = 4
        self.version = self._unpack(_U32)
        if self.version in SUPPORTED_VERSIONS:
            return
        if int.from_bytes(self.version.to_bytes(4, "little"), "big") in SUPPORTED_VERSIONS:
            message = (f"{self.name} is a big-endian GGUF file (made for mainframe computers); "
                       "SLM Desk needs the ordinary little-endian version of the model.")
        elif self.version == 1:
            message = (f"{self.name} uses GGUF version 1, an early format that is no longer supported; "
                       "get a newer conversion of the model.")
        else:
            message = (f"{self.name} uses GGUF version {self.version}, which SLM Desk does not know "
                       "(supported: 2 and 3). It may need a newer SLM Desk.")
        raise GGUFError(self.path, "unsupported_version", message)

    def _read_value(self, value_type: int, key: str, array_lengths: dict[str, int], depth: int) -> Any:
        if value_type in _SCALAR_FORMATS:
            return self._unpack(_SCALAR_FORMATS[value_type])
        if value_type == GGUFValueType.STRING:
            text = self._read_string(f'"{shown(key)}"')
            return text if text is not None else UNLOADED_TEXT
        if value_type != GGUFValueType.ARRAY or depth > 2:
            raise self._corrupt(f'the metadata entry "{shown(key)}" has an unknown kind of value ({value_type})')
        item_type, count = self._unpack(_U32), self._unpack(_U64)
        array_lengths.setdefault(key, count)
        summary = f"[array of {count} {_VALUE_TYPE_NAMES.get(item_type, 'unknown')}]"
        claim = f'{count} elements in the list "{shown(key)}"'
        if item_type == GGUFValueType.ARRAY:  # nested lists are rare; walk them to find their end
            self._check_fits(count, 12, PLAUSIBLE_KV_COUNT, claim)
            for _ in range(count):
                self._read_value(item_type, key, {}, depth + 1)
            return summary
        if item_type in _SCALAR_FORMATS:
            item_size, plausible = _SCALAR_FORMATS[item_type].size, PLAUSIBLE_ARRAY_LENGTH
        elif item_type == GGUFValueType.STRING:
            item_size, plausible = 8, PLAUSIBLE_STRING_ARRAY_LENGTH  # a string is at least its length
        else:
            raise self._corrupt(f'the list "{shown(key)}" has an unknown kind of element ({item_type})')
        self._check_fits(count, item_size, plausible, claim)
        if count <= SHORT_ARRAY_LIMIT:
            return [self._read_value(item_type, key, array_lengths, depth + 1) for _ in range(count)]
        if item_type == GGUFValueType.STRING:
            self._skip_strings(count, f'"{shown(key)}"')
        else:
            self.pos += count * item_size
        return summary

    def _read_tensor_info(self, index: int) -> TensorEntry:
        name = self._read_string(f"the name of tensor {index}")
        if name is None or len(name) > MAX_TENSOR_NAME_BYTES:
            raise self._corrupt(f"tensor {index} has a garbled name")
        n_dims = self._unpack(_U32)
        if n_dims > MAX_TENSOR_DIMS:
            raise self._corrupt(f'tensor "{shown(name)}" claims {n_dims} dimensions (at most {MAX_TENSOR_DIMS})')
        dims = tuple(self._unpack(_U64) for _ in range(n_dims))
        type_id, offset = self._unpack(_U32), self._unpack(_U64)
        if type_id not in _TENSOR_TYPES:
            raise self._corrupt(f'tensor "{shown(name)}" uses an unknown number format ({type_id}); '
                                "if the file is not damaged, it needs a newer SLM Desk")
        type_name, block_size, block_bytes = _TENSOR_TYPES[type_id]
        elements = math.prod(dims)
        if any(d == 0 for d in dims) or elements >= 1 << 63 or (dims and dims[0] % block_size):
            raise self._corrupt(f'tensor "{shown(name)}" has an impossible shape {list(dims)} for its {type_name} format')
        return TensorEntry(name, type_name, elements, elements // block_size * block_bytes, offset, dims)

    def _read_tensor_infos(self, count: int, alignment: int) -> list[TensorEntry]:
        """Tensors must sit back to back in header order, as llama.cpp requires. Each is checked as
        it is read, so a damaged count (a million tensors from zeros) fails at the first misfit,
        before a million entries are built."""
        tensors: list[TensorEntry] = []
        expected_offset, seen_names = 0, set()
        for index in range(count):
            tensor = self._read_tensor_info(index)
            if tensor.name in seen_names:
                raise self._corrupt(f'the tensor "{shown(tensor.name)}" appears twice')
            seen_names.add(tensor.name)
            if tensor.offset % alignment or tensor.offset != expected_offset:
                raise self._corrupt(f'tensor "{shown(tensor.name)}" starts at byte {tensor.offset} of the weights, '
                                    f"but should start at byte {expected_offset}")
            expected_offset = tensor.offset + -(-tensor.nbytes // alignment) * alignment
            tensors.append(tensor)
        return tensors

    def _check_tensors_fit(self, tensors: list[TensorEntry], data_start: int) -> None:
        """The last tensor must end inside the file."""
        data_end = data_start + tensors[-1].offset + tensors[-1].nbytes if tensors else data_start
        if data_end > self.file_size:
            have, need = _format_size_one_decimal(self.file_size), _format_size_one_decimal(data_end)
            if have == need:
                have, need = f"{self.file_size:,} bytes", f"{data_end:,} bytes"
            raise GGUFError(self.path, "truncated", f"{self.name} is incomplete: the file stops at {have} "
                            f"but its tensors need {need}. The download or copy probably stopped early; "
                            "get the file again.")
