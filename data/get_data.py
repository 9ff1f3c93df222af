#!/usr/bin/env python3
"""Fetch the course datasets.

    python data/get_data.py 1 data              # dataset 1 (amplitude regression) into data/
    python data/get_data.py amplitude data      # the same, by name
    python data/get_data.py all data --offline  # every dataset, generated offline
    python data/get_data.py 2 data --scale ci   # top-tagging jets, a small offline set
    python data/get_data.py all data --mirror http://hub.example.org/course-data   # a class mirror first
    python data/get_data.py all --mirror-layout # the files a class mirror serves

Datasets: 1 amplitude regression, 2 top tagging short, 3 top tagging reference (Zenodo),
4 digits (MNIST).

By default each dataset is downloaded from its real source (a class mirror, given with
--mirror or $COURSE_DATA_MIRROR, is tried first); if no download works (no network, a corrupt
or truncated file), a faithful stand-in is generated offline in exactly the same layout, and
the reason is printed. Problems on this machine (disk full, permissions) stop with an error
instead. ``SOURCE.json`` in each dataset folder records which source made it. See
data/README.md.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a fresh clone without installing

from course_utils.datafiles.errors import DataError  # noqa: E402
from course_utils.datafiles.mirror import MIRROR_ENV, MIRROR_ONLY_ENV, mirror_base, mirror_only  # noqa: E402
from course_utils.datafiles.provenance import describe  # noqa: E402
from course_utils.datasets import registry  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset number or name, or 'all'")
    parser.add_argument("data_dir", nargs="?", default=str(Path(__file__).resolve().parent),
                        help="folder to put the data in (default: this folder)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--source", choices=("auto", "download", "offline"),
                       help="auto (default): download, fall back to the offline stand-in; "
                            "download: real source only; offline: generate the stand-in")
    group.add_argument("--offline", action="store_const", const="offline", dest="source",
                       help="do not try the network: generate the offline stand-in")
    group.add_argument("--download-only", action="store_const", const="download", dest="source",
                       help="fail instead of falling back to the offline stand-in")
    parser.add_argument("--mirror", metavar="URL", default=None,
                        help=f"base URL of a class mirror, tried before the public sources (default: ${MIRROR_ENV})")
    parser.add_argument("--mirror-only", action="store_true",
                        help=f"try the class mirror alone, never the public sources (also: {MIRROR_ONLY_ENV}=1)")
    parser.add_argument("--mirror-layout", action="store_true",
                        help="print the paths a class mirror serves for the chosen datasets, and stop")
    parser.add_argument("--scale", choices=("ci", "full"), default="full",
                        help="size of generated jet datasets (2, 3) when made offline (default: full)")
    parser.add_argument("--force", action="store_true", help="remake the data even if present")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(source="auto")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keys = [str(e.number) for e in registry.REGISTRY] if args.dataset.lower() == "all" else [args.dataset]
    if args.mirror_only:
        os.environ[MIRROR_ONLY_ENV] = "1"  # read where the URLs are chosen, like the notebooks' fetch calls
    try:
        entries = [registry.lookup(key) for key in keys]
        mirror = mirror_base(args.mirror)
        if mirror_only() and not mirror and args.source != "offline":
            raise ValueError(f"--mirror-only ({MIRROR_ONLY_ENV}) needs a mirror: --mirror URL or {MIRROR_ENV}")
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.mirror_layout:
        try:
            for entry in entries:
                for path in entry.mirror_files:
                    print(f"{mirror}/{path}" if mirror else path)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
        return 0
    for entry in entries:
        via = f", mirror {mirror} first" if mirror and args.source != "offline" else ""
        print(f"Dataset {entry.number} ({entry.name!r}, used in {', '.join(entry.tutorials)}) -> {args.data_dir}{via}")
        try:
            record = registry.fetch(str(entry.number), Path(args.data_dir), scale=args.scale, source=args.source,
                                    force=args.force, progress=not args.quiet, mirror=mirror)
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyError as exc:  # a handout that does not carry this dataset's module
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
        print(f"  ready: {describe(record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
