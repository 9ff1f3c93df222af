"""Download a file with the ``wget`` module, check it, and only then move it into place.

Nothing half-written is ever left at the destination: the download goes to a temporary
folder beside it, is checked (checksum and/or a caller's validator), and is moved with an
atomic rename. Failures are told apart:

- ``DownloadError``: no URL gave good content (network down, server error, truncated or
  corrupt file). The caller may fall back to the offline stand-in and says why.
- ``LocalFileError``: a problem on this machine (disk full, no permission, read-only
  folder). Not a network problem, so never hidden behind the offline fallback.
- Anything else (a bug) propagates unchanged, with its traceback.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import ssl
import tempfile
import urllib.error
from pathlib import Path
from typing import Callable, Iterator, Sequence

import wget

from .errors import DataError

# what urllib raises when a server, the network or the transfer fails (all but HTTPException are OSErrors)
NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout, socket.gaierror,
                  ssl.SSLError, http.client.HTTPException)


class DownloadError(DataError):
    """No URL could be downloaded (network down, server error, checksum or validation failed)."""


class LocalFileError(DataError):
    """Writing the download on this machine failed (disk full, permissions): not a network problem."""


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


def _fetch(url: str, target: Path, timeout: float, progress: bool) -> Path:
    """``wget.download`` of ``url`` to the absolute path ``target`` (its scratch file lands beside it)."""
    with _socket_timeout(timeout):
        fetched = Path(wget.download(url, out=str(target), bar=wget.bar_adaptive if progress else None))
    if progress:
        print()
    return fetched


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
    ``DownloadError`` listing why every URL failed, or ``LocalFileError`` at once when this
    machine cannot write the file; ``destination`` is then untouched. ``destination`` may be
    relative to the working directory.
    """
    # wget names its scratch file after ``out``, relative to the working directory: pass absolute paths only
    destination = Path(destination).absolute()
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in urls:
        with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".download-") as scratch:
            target = Path(scratch) / destination.name
            try:
                fetched = _fetch(url, target, timeout, progress)
            except urllib.error.ContentTooShortError:
                failures.append(f"{url}: the download was truncated (fewer bytes than the server announced)")
                continue
            except NETWORK_ERRORS as exc:
                failures.append(f"{url}: {exc}")
                continue
            except ValueError as exc:  # urllib: unknown URL type and the like
                failures.append(f"{url}: not a URL that can be downloaded ({exc})")
                continue
            except OSError as exc:
                raise LocalFileError(
                    f"Could not write the download of {url} to {destination.parent}: {exc}. This is a problem "
                    "on this machine (disk space, permissions), not of the network.") from exc
            if md5 is not None:
                found = file_md5(fetched)
                if found != md5:
                    failures.append(f"{url}: MD5 checksum {found} does not match the expected {md5} "
                                    "(corrupt download, or not the original file)")
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
