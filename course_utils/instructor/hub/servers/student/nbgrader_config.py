"""nbgrader in a student's server on the course hub (the hub points JUPYTER_CONFIG_PATH here).

The assignment list fetches from and submits to the hub's exchange folder, which the hub passes in
``COURSE_EXCHANGE`` (``EXCHANGE`` in ``jupyterhub_config.py``), under the course id in ``COURSE_ID``.
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "")
