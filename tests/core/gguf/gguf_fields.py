"""Where each field of a GGUF header sits, found by a walk written apart from the reader under test.

The fuzz tests mutate headers field by field (a count made huge, a type made wrong, a string made
invalid UTF-8), which needs the byte offset of every field; random flips alone almost never hit a
count. This walk follows ggml's ``docs/gguf.md`` directly and trusts its input (it only ever sees
our seeds), so it shares no code, and no mistakes, with ``slmdesk.core.gguf._header``.
:func:`trimmed_header` shortens long arrays (the vocabulary) so a seed stays a few KB.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

SCALAR_FORMATS = {GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H",
                  GGUFValueType.INT16: "<h", GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
                  GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?", GGUFValueType.UINT64: "<Q",
                  GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d"}


@dataclass
class HeaderFields:
    """Offsets into one header; ``end`` is where the tensor infos stop, ``data_end`` where the
    tensor data of the whole file stops, relative to its aligned start."""

    counts: list[int] = field(default_factory=list)  # u64 counts and lengths
    array_counts: list[int] = field(default_factory=list)  # the u64 counts of arrays alone
    types: list[int] = field(default_factory=list)  # u32 value, item and tensor types
    strings: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) of string bytes
    values: list[tuple[int, int]] = field(default_factory=list)  # (type offset, value end) of each kv
    entries: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each kv
    kv_count_offset: int = 16
    alignment: int = 32
    end: int = 0
    data_end: int = 0


class _Walk:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.fields = data, 0, HeaderFields()

    def u32(self) -> int:
        (value,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def u64(self, record: bool = True) -> int:
        if record:
            self.fields.counts.append(self.pos)
        (value,) = struct.unpack_from("<Q", self.data, self.pos)
        self.pos += 8
        return int(value)

    def string(self) -> bytes:
        length = self.u64()
        self.fields.strings.append((self.pos, length))
        self.pos += length
        return self.data[self.pos - length:self.pos]

    def value(self, value_type: int) -> object:
        if value_type in SCALAR_FORMATS:
            scalar = struct.Struct(SCALAR_FORMATS[GGUFValueType(value_type)])
            (number,) = scalar.unpack_from(self.data, self.pos)
            self.pos += scalar.size
            return number
        if value_type == GGUFValueType.STRING:
            return self.string()
        self.fields.types.append(self.pos)
        self.fields.array_counts.append(self.pos + 4)
        item_type, count = self.u32(), self.u64()
        for _ in range(count):
            self.value(item_type)
        return None


def header_fields(data: bytes) -> HeaderFields:
    """The offsets of every field of the GGUF header at the start of ``data``."""
    walk = _Walk(data)
    walk.pos = 8
    tensor_count = walk.u64()
    walk.fields.kv_count_offset = walk.pos
    kv_count = walk.u64()
    for _ in range(kv_count):
        start = walk.pos
        key = walk.string()
        walk.fields.types.append(walk.pos)
        type_offset = walk.pos
        value = walk.value(walk.u32())
        walk.fields.values.append((type_offset, walk.pos))
        walk.fields.entries.append((start, walk.pos))
        if key == b"general.alignment":
            walk.fields.alignment = int(value)  # type: ignore[call-overload]
    for _ in range(tensor_count):
        walk.string()
        dims = [walk.u64() for _ in range(walk.u32())]
        walk.fields.types.append(walk.pos)
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(walk.u32())]
        offset = walk.u64()
        walk.fields.data_end = max(walk.fields.data_end, offset + math.prod(dims) // block * size)
    walk.fields.end = walk.pos
    return walk.fields


def file_size_for(header: bytes, fields: HeaderFields) -> int:
    """The size of the whole file this header describes: aligned header, then the tensor data."""
    return -(-len(header) // fields.alignment) * fields.alignment + fields.data_end


def trimmed_header(data: bytes, keep: int = 48) -> bytes:
    """The header with every array cut to its first ``keep`` items; the tensor infos stay as they are.

    The result is a seed of a few KB that still reads as the same model (a shorter vocabulary).
    """
    walk = _Walk(data)
    walk.pos = 8
    tensor_count = walk.u64(record=False)
    kv_count = walk.u64(record=False)
    out = bytearray(data[:24])
    for _ in range(kv_count):
        start = walk.pos
        walk.string()
        value_type = walk.u32()
        if value_type != GGUFValueType.ARRAY:
            walk.value(value_type)
            out += data[start:walk.pos]
            continue
        head = walk.pos
        item_type, count = walk.u32(), walk.u64(record=False)
        items_start = walk.pos
        for index in range(count):
            if index == keep:
                kept_end = walk.pos
            walk.value(item_type)
        kept_end = walk.pos if count <= keep else kept_end
        out += data[start:head] + struct.pack("<IQ", item_type, min(count, keep)) + data[items_start:kept_end]
    tensors_start = walk.pos
    for _ in range(tensor_count):
        walk.string()
        dimensions = walk.u32()
        walk.pos += 8 * dimensions + 12  # the dimensions, the type and the offset
    return bytes(out + data[tensors_start:walk.pos])
