"""Data plumbing: how files arrive, are checked and are installed.

Downloads (with ``wget``, optional class mirror), zip and IDX files, the scratch-folder /
atomic-install pattern, ``SOURCE.json`` provenance and the one ``DataError`` every data problem
is reported with. Knows nothing about any particular dataset or physics.
"""
