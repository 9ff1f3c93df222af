"""nbgrader in the grader account's server on the course hub (the hub points JUPYTER_CONFIG_PATH here).

The formgrader and nbgrader's commands work on the course folder the hub passes in ``COURSE_HUB_COURSE``
(``COURSE`` in ``jupyterhub_config.py``); that folder's own ``nbgrader_config.py`` is read after this file
and sets everything else (course id, folders, grading), with the exchange from ``COURSE_EXCHANGE``.
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.root = os.environ["COURSE_HUB_COURSE"]
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
