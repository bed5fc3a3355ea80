"""A GGUF file's metadata, read by walking its header alone.

gguf's `GGUFReader` parses every metadata entry into arrays first, the 49k-token
vocabulary of the offline model included: 2-5 s of Python. The few facts this project
needs (the EOS token, the architecture's block and head counts) sit in the same header
and are found in ~0.1 s by skipping over what is not asked for.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from gguf import GGUF_MAGIC
from gguf import GGUFValueType as T

_SCALAR = {T.UINT8: "B", T.INT8: "b", T.UINT16: "H", T.INT16: "h", T.UINT32: "I",
           T.INT32: "i", T.FLOAT32: "f", T.BOOL: "?", T.UINT64: "Q", T.INT64: "q",
           T.FLOAT64: "d"}  # fmt: skip


class TensorInfo(NamedTuple):
    name: str
    kind: int  # ggml's type id (gguf.GGMLQuantizationType)
    dims: tuple[int, ...]
    offset: int


class GgufHeader:
    """The metadata of an open GGUF file: scalar and string values by key, and where
    each array's items are (read one at a time with `string_item`)."""

    def __init__(self, data: Any) -> None:
        self._data = data
        self.values: dict[str, int | float | bool | str] = {}
        self._arrays: dict[str, tuple[int, int, int]] = {}  # key: (item type, count, offset)
        if len(data) < 4 or struct.unpack_from("<I", data, 0)[0] != GGUF_MAGIC:
            raise ValueError("it does not start with GGUF's magic bytes: another format")
        _, version, self._n_tensors, n_kv = struct.unpack_from("<IIQQ", data, 0)
        if version < 2:  # v1 counted in 32 bits; none ships
            raise ValueError("not a GGUF file of version 2 or later")
        pos = 24
        for _ in range(n_kv):
            key_end = self._skip(T.STRING, pos)
            key = bytes(data[pos + 8 : key_end]).decode("utf-8")
            (kind,) = struct.unpack_from("<I", data, key_end)
            pos = key_end + 4
            if kind in _SCALAR:
                self.values[key] = struct.unpack_from("<" + _SCALAR[T(kind)], data, pos)[0]
            elif kind == T.STRING:
                self.values[key] = self._string(pos)
            elif kind == T.ARRAY:
                sub, count = struct.unpack_from("<IQ", data, pos)
                self._arrays[key] = (sub, count, pos + 12)
            pos = self._skip(kind, pos)
        self._kv_end = pos

    def tensors(self) -> list[TensorInfo]:
        """The tensor table: each tensor's name, ggml type, dimensions (ne0 first: a
        matrix's row length, then its rows) and data offset. Raises ValueError for a
        table the file ends inside."""
        data, pos = self._data, self._kv_end
        table = []
        try:
            for _ in range(self._n_tensors):
                name_end = self._skip(T.STRING, pos)
                name = bytes(data[pos + 8 : name_end]).decode("utf-8", "replace")
                (n_dims,) = struct.unpack_from("<I", data, name_end)
                dims = struct.unpack_from(f"<{n_dims}Q", data, name_end + 4)
                kind, offset = struct.unpack_from("<IQ", data, name_end + 4 + 8 * n_dims)
                pos = name_end + 4 + 8 * n_dims + 12
                table.append(TensorInfo(name, kind, dims, offset))
        except struct.error as exc:
            raise ValueError("its tensor table is cut short") from exc
        self._table_end = pos
        return table

    def data_end(self) -> int:
        """The file size the tensor table asks for: where its last tensor's data ends.
        A file shorter than that was cut short (a download or copy that stopped)."""
        from gguf import GGML_QUANT_SIZES, GGUF_DEFAULT_ALIGNMENT

        end = 0
        for tensor in self.tensors():
            count = 1
            for dim in tensor.dims:
                count *= dim
            # A weight type newer than this gguf library: its offset still counts.
            block, size = GGML_QUANT_SIZES.get(_quant_type(tensor.kind), (1, 0))
            end = max(end, tensor.offset + count // block * size)
        align = self.values.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
        align = align if isinstance(align, int) and align > 0 else GGUF_DEFAULT_ALIGNMENT
        return -(-self._table_end // align) * align + end

    def array_length(self, key: str) -> int:
        """How many items the array `key` holds (0 when there is no such array)."""
        return self._arrays.get(key, (-1, 0, 0))[1]

    def string_item(self, key: str, index: int) -> str | None:
        """Item `index` of the string array `key`; None where there is no such item."""
        sub, count, pos = self._arrays.get(key, (-1, 0, 0))
        if sub != T.STRING or not 0 <= index < count:
            return None
        try:
            for _ in range(index):
                pos = self._skip(T.STRING, pos)
            return self._string(pos)
        except (struct.error, ValueError):  # the file ends inside the array
            return None

    def _string(self, pos: int) -> str:
        return bytes(self._data[pos + 8 : self._skip(T.STRING, pos)]).decode("utf-8")

    def _skip(self, kind: int, pos: int) -> int:
        """The offset after the value of type `kind` at `pos`."""
        data = self._data
        if kind == T.STRING:
            end = pos + 8 + int(struct.unpack_from("<Q", data, pos)[0])
            if end > len(data):
                raise ValueError("a string runs past the end of the file")
            return end
        if kind == T.ARRAY:
            sub, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            if sub in _SCALAR:
                return pos + count * struct.calcsize(_SCALAR[T(sub)])
            for _ in range(count):
                pos = self._skip(sub, pos)
            return pos
        return pos + struct.calcsize(_SCALAR[T(kind)])


def _quant_type(kind: int) -> Any:
    from gguf import GGMLQuantizationType

    try:
        return GGMLQuantizationType(kind)
    except ValueError:
        return None


@contextmanager
def gguf_header(path: Path) -> Iterator[GgufHeader]:
    """The header of the GGUF file at `path`. Raises ValueError for a file that is not
    one (empty, cut short, another format, a value type it does not know)."""
    with path.open("rb") as f:
        if not path.stat().st_size:
            raise ValueError("the file is empty")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                header = GgufHeader(data)
            except struct.error as exc:
                raise ValueError("its header is cut short") from exc
            except (KeyError, UnicodeDecodeError) as exc:
                raise ValueError(f"its header cannot be read ({exc})") from exc
            yield header
