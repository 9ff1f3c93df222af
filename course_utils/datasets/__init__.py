"""The four course datasets, one module each, and the registry behind ``data/get_data.py``.

- ``amplitude_regression``: dataset 1 (tutorial 01), real zip or q qbar -> gamma gamma g offline;
- ``toptagging``: datasets 2 and 3 (tutorials 03, 04), real files or Pythia 8 + FastJet offline;
- ``digits``: dataset 4 (tutorial 02), MNIST or an offline stand-in;
- ``registry``: dataset numbers and names -> fetch functions.

Built on ``course_utils.datafiles`` (plumbing) and ``course_utils.physics`` (generators).
"""
