#!/usr/bin/env python3
"""Fetch the course registry.

    python data/get_data.py 1 data              # dataset 1 (amplitude regression) into data/
    python data/get_data.py amplitude data      # the same, by name
    python data/get_data.py all data --offline  # every dataset, generated offline
    python data/get_data.py 2 data --scale ci   # top-tagging jets, a small offline set

Datasets: 1 amplitude regression, 2 top tagging short, 3 top tagging reference (Zenodo),
4 digits (MNIST).

By default each dataset is downloaded from its real source; if that fails (no network),
a faithful stand-in is generated offline in exactly the same layout. ``SOURCE.json`` in
each dataset folder records which source made it. See data/README.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a fresh clone without installing

from course_utils.datafiles.errors import DataError  # noqa: E402
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
    parser.add_argument("--scale", choices=("ci", "full"), default="full",
                        help="size of generated jet datasets (2, 3) when made offline (default: full)")
    parser.add_argument("--force", action="store_true", help="remake the data even if present")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(source="auto")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keys = [str(e.number) for e in registry.REGISTRY] if args.dataset.lower() == "all" else [args.dataset]
    for key in keys:
        try:
            entry = registry.lookup(key)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        print(f"Dataset {entry.number} ({entry.name!r}, used in {', '.join(entry.tutorials)}) -> {args.data_dir}")
        try:
            record = registry.fetch(key, Path(args.data_dir), scale=args.scale, source=args.source,
                                    force=args.force, progress=not args.quiet)
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"  ready: {describe(record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
