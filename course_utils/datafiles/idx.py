"""Reading and writing IDX files (the MNIST format), optionally gzip-compressed.

Header: two zero bytes, a type code (0x08 = unsigned byte, ...), the number of dimensions,
then each dimension as a big-endian int32; the data follow in C order, big-endian.
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from .errors import DataError

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode the bytes of one IDX file; ``DataError`` for a bad header or a wrong length."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number)")
    type_code, n_dims = raw[2], raw[3]
    if type_code not in _TYPES:
        raise DataError(f"{name}: unknown IDX data type 0x{type_code:02x}")
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise DataError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{n_dims}i", raw[4:header_size])
    dtype = _TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise DataError(f"{name}: expected {expected} data bytes for shape {shape}, found {len(raw) - header_size} "
                        "(truncated or corrupt file)")
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file; names ending in .gz are decompressed."""
    path = Path(path)
    data = path.read_bytes()  # a missing file raises FileNotFoundError: callers say how to fetch it
    try:
        raw = gzip.decompress(data) if path.suffix == ".gz" else data
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path.name}: cannot be read ({exc}); the file is corrupt or truncated") from exc
    return parse_idx(raw, path.name)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array`` (uint8, int8, int16, int32, float32 or float64)."""
    array = np.asarray(array)
    code = next((c for c, t in _TYPES.items() if (t.kind, t.itemsize) == (array.dtype.kind, array.dtype.itemsize)), None)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    big_endian = array.astype(_TYPES[code])
    header = bytes([0, 0, code, big_endian.ndim]) + struct.pack(f">{big_endian.ndim}i", *big_endian.shape)
    return header + big_endian.tobytes()


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed if the name ends in .gz)."""
    data = encode_idx(array)
    Path(path).write_bytes(gzip.compress(data, mtime=0) if str(path).endswith(".gz") else data)
