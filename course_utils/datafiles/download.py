"""Download a file with the ``wget`` module, check it, and only then move it into place.

Nothing half-written is ever left at the destination: the download goes to a temporary
folder beside it (``wget`` also writes its own scratch file into the working directory,
so the download runs with that temporary folder as working directory), is checked
(checksum and/or a caller's validator), and is moved with an atomic rename.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
from pathlib import Path
from typing import Callable, Iterator, Sequence

import wget

from .errors import DataError


class DownloadError(DataError):
    """No URL could be downloaded (network down, server error, checksum or validation failed)."""


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def file_md5(path: Path, chunk_size: int = 1 << 20) -> str:
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    urls: Sequence[str],
    destination: Path,
    *,
    md5: str | None = None,
    validate: Callable[[Path], None] | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> str:
    """Download the first of ``urls`` that works to ``destination`` and return that URL.

    Each candidate is checked against ``md5`` (if given) and ``validate`` (if given; it
    raises ``DataError`` for bad content) before it is moved into place. Raises
    ``DownloadError`` listing why every URL failed; ``destination`` is then untouched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in urls:
        with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".download-") as scratch:
            scratch_path = Path(scratch)
            target = scratch_path / destination.name
            try:
                with _working_directory(scratch_path), _socket_timeout(timeout):
                    fetched = Path(wget.download(url, out=str(target), bar=wget.bar_adaptive if progress else None))
                if progress:
                    print()
            except urllib.error.ContentTooShortError:
                failures.append(f"{url}: the download was truncated (fewer bytes than the server announced)")
                continue
            except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            if md5 is not None:
                found = file_md5(fetched)
                if found != md5:
                    failures.append(f"{url}: MD5 checksum {found} does not match the expected {md5} (corrupt download)")
                    continue
            if validate is not None:
                try:
                    validate(fetched)
                except DataError as exc:
                    failures.append(f"{url}: {exc}")
                    continue
            os.replace(fetched, destination)
            return url
    raise DownloadError(f"Could not download {destination.name}:\n  " + "\n  ".join(failures))
