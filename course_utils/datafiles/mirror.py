"""A class mirror: the course's data files on a server of the instructor's, tried before the public sources.

A JupyterHub without outside network, or a class that should not hammer the public servers,
serves the files under one base URL in the layout each dataset names (``MIRROR_FILES`` in the
dataset modules; ``python data/get_data.py --mirror-layout`` lists them). The mirror is given
with ``--mirror URL`` or the environment variable ``COURSE_DATA_MIRROR``; its files pass the
same checks (checksums, archive integrity, layouts) as the public ones. With ``--mirror-only``
or ``COURSE_DATA_MIRROR_ONLY=1`` the public sources are not tried at all (a hub with no outside
network then never waits for them).
"""
from __future__ import annotations

import os
import urllib.parse
from typing import Sequence

MIRROR_ENV = "COURSE_DATA_MIRROR"
MIRROR_ONLY_ENV = "COURSE_DATA_MIRROR_ONLY"
SCHEMES = ("http", "https", "ftp", "file")


def mirror_base(mirror: str | None = None) -> str | None:
    """The mirror's base URL without a trailing slash: ``mirror`` if given, else ``$COURSE_DATA_MIRROR``
    (empty means none). ``ValueError`` for something that is not an http(s), ftp or file URL."""
    base = mirror if mirror is not None else os.environ.get(MIRROR_ENV, "")
    base = base.strip()
    if not base:
        return None
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in SCHEMES or not (parts.netloc or parts.scheme == "file"):
        raise ValueError(f"the data mirror must be a URL such as http://server:8000/course-data, not {base!r}")
    return base.rstrip("/")


def mirror_only() -> bool:
    """True when ``$COURSE_DATA_MIRROR_ONLY`` asks to skip the public sources."""
    return os.environ.get(MIRROR_ONLY_ENV, "").strip().lower() in ("1", "true", "yes")


def candidate_urls(relative_path: str, public_urls: Sequence[str], mirror: str | None = None) -> tuple[str, ...]:
    """The URLs to try for one file: the mirror's copy at ``relative_path`` first, then ``public_urls``
    (unless ``$COURSE_DATA_MIRROR_ONLY`` is set; then a missing mirror is an error)."""
    base = mirror_base(mirror)
    if mirror_only():
        if not base:
            raise ValueError(f"{MIRROR_ONLY_ENV} is set but no mirror is given (--mirror or {MIRROR_ENV})")
        return (f"{base}/{relative_path}",)
    return ((f"{base}/{relative_path}",) if base else ()) + tuple(public_urls)
