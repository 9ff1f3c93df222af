"""Shared helpers of the course "Bayesian deep learning for particle physics".

Modules, each with one job:

- ``paths``: where the course root and the data folder are.
- ``runtime``: seeds, thread count and device, so notebook re-runs agree.
- ``errors``: the exception every data problem is reported with.
- ``provenance``: the ``SOURCE.json`` file that records which source made a dataset.
- ``download``: fetch a file with the ``wget`` module into a temporary file, then move it.
- ``lorentz``: four-vector kinematics (Minkowski products, pT, eta, phi, boosts).
- ``phasespace``: RAMBO massless phase space.
- ``amplitudes``: the closed-form squared matrix element of q qbar -> gamma gamma g.
- ``amplitude_data``: dataset 1 (amplitude regression): download, offline generation, loading.
- ``datasets``: the registry behind ``data/get_data.py``.
- ``plotting``: ready-made figures (histograms with ratio panels, loss curves, pulls).
"""

__version__ = "0.1.0"
