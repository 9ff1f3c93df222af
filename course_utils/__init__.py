"""Shared helpers of the course "Bayesian deep learning for particle physics".

Laid out by layer; imports only ever point down this list:

- ``instructor``: the tooling behind the Makefile (generate, execute, parallel and hardened autograding,
  the instructor report, the demo class, summary).
- ``notebook``: what notebooks use ready-made: ``runtime`` (seeds, threads, device), ``paths``
  (course root, data folder), ``plotting`` (figures), ``metrics`` (the JSON a notebook reports).
- ``datasets``: the four course datasets (one module each) and the ``registry`` behind
  ``data/get_data.py``.
- ``gradecells``: the behaviour checks the notebooks' test cells import (run in the student's kernel;
  no answers), at the bottom beside ``datafiles`` and ``physics``.
- ``datafiles`` and ``physics``, side by side at the bottom and independent of each other:
  data plumbing (downloads, class mirror, archives, IDX files, atomic installs, provenance,
  ``DataError``) and physics (four-vectors, phase space, matrix elements, jets, jet images,
  the Pythia 8 + FastJet jet generator).

``tests/test_layout.py`` checks the direction of the imports.
"""

__version__ = "0.1.0"
