"""What the notebooks import ready-made: seeds and devices (``runtime``), where the course and
its data are (``paths``), figures (``plotting``) and the metrics a notebook reports (``metrics``).

May use every layer below (``datasets``, ``datafiles``, ``physics``); nothing below imports it.
"""
