"""Zip archives of downloaded datasets: check them, then extract the wanted members."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Iterable

from .errors import DataError


def _members(archive: zipfile.ZipFile, wanted: set[str]) -> dict[str, zipfile.ZipInfo]:
    """Wanted file names -> archive members, wherever they sit in the archive (macOS clutter ignored)."""
    return {
        Path(info.filename).name: info
        for info in archive.infolist()
        if Path(info.filename).name in wanted and not info.filename.startswith("__MACOSX")
    }


def check_zip(path: Path, names: Iterable[str]) -> None:
    """Raise ``DataError`` unless ``path`` is an intact zip (CRCs checked) holding ``names``."""
    if not zipfile.is_zipfile(path):
        raise DataError(f"{Path(path).name} is not a valid zip archive (truncated or corrupt download?)")
    wanted = set(names)
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise DataError(f"{Path(path).name}: member {broken} fails its CRC check (corrupt download)")
            missing = wanted - set(_members(archive, wanted))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{Path(path).name} is not a readable zip archive ({exc})") from exc
    if missing:
        raise DataError(f"{Path(path).name} lacks {', '.join(sorted(missing))}")


def extract(path: Path, names: Iterable[str], folder: Path) -> None:
    """Copy the members ``names`` of the zip ``path`` flat into ``folder``."""
    with zipfile.ZipFile(path) as archive:
        for name, info in _members(archive, set(names)).items():
            with archive.open(info) as source, open(Path(folder) / name, "wb") as target:
                shutil.copyfileobj(source, target)
