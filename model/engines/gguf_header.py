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
from typing import Any

from gguf import GGUF_MAGIC
from gguf import GGUFValueType as T

_SCALAR = {T.UINT8: "B", T.INT8: "b", T.UINT16: "H", T.INT16: "h", T.UINT32: "I",
           T.INT32: "i", T.FLOAT32: "f", T.BOOL: "?", T.UINT64: "Q", T.INT64: "q",
           T.FLOAT64: "d"}  # fmt: skip


class GgufHeader:
    """The metadata of an open GGUF file: scalar and string values by key, and where
    each array's items are (read one at a time with `string_item`)."""

    def __init__(self, data: Any) -> None:
        self._data = data
        self.values: dict[str, int | float | bool | str] = {}
        self._arrays: dict[str, tuple[int, int, int]] = {}  # key: (item type, count, offset)
        magic, version, _, n_kv = struct.unpack_from("<IIQQ", data, 0)
        if magic != GGUF_MAGIC or version < 2:  # v1 counted in 32 bits; none ships
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
            except (struct.error, KeyError, UnicodeDecodeError) as exc:
                raise ValueError(f"its header cannot be read ({exc})") from exc
            yield header
