"""The course on a JupyterHub: every student and the instructor (the grader account) log into a server of
their own, running as their own Unix account, and exchange assignments, submissions and feedback through
nbgrader's exchange folder.

``jupyterhub_config.py`` is the configuration an instructor adapts; ``servers/<role>/`` hold the Jupyter and
nbgrader settings the hub gives each kind of server; ``accounts`` makes Unix accounts for a try-out;
``launcher`` prepares the folders and starts the hub (``make hub``, ``python -m course_utils.instructor.hub``).
"""
