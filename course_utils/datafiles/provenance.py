"""``SOURCE.json``: the file beside each dataset that records which source made it."""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import DataError

PROVENANCE_FILE = "SOURCE.json"


def write_provenance(folder: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write ``record`` (plus a UTC time stamp) as ``folder/SOURCE.json``, atomically; return what was written."""
    folder = Path(folder)
    record = {**record, "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    target = folder / PROVENANCE_FILE
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".SOURCE.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return record


def read_provenance(folder: Path) -> dict[str, Any]:
    """Read ``folder/SOURCE.json``; a clear ``DataError`` if it is missing or unreadable."""
    target = Path(folder) / PROVENANCE_FILE
    try:
        return json.loads(target.read_text())
    except FileNotFoundError as exc:
        raise DataError(f"{target} is missing: the dataset in {folder} was not made by get_data.py.") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{target} is not valid JSON ({exc}); regenerate the dataset with --force.") from exc


def describe(record: dict[str, Any]) -> str:
    """One line for a notebook: which source made the data."""
    if record.get("source") == "download":
        url = record.get("url")
        return "downloaded from " + (", ".join(url) if isinstance(url, list) else str(url))
    return f"generated offline: {record.get('generator', record.get('process', '?'))} (seed {record.get('seed')})"
