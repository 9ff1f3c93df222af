"""The grader account's server on the course hub (the hub points JUPYTER_CONFIG_PATH here): nbgrader's
instructor extensions on the course folder, which the hub passes in ``COURSE_HUB_COURSE`` (``COURSE`` in
``jupyterhub_config.py``; the server opens it too).

The course folder is set for the server's extensions only, not in an ``nbgrader_config.py`` here: nbgrader
commands run in a terminal (and those that ``make grade`` runs in its private copies of the course) take
their course from the folder they run in.
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when Jupyter loads this file)

c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.assignment_list": True,
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.formgrader": True,  # the formgrader: submissions, manual grading, feedback
    "nbgrader.server_extensions.course_list": True,  # Nbgrader -> Course List: the formgrader of this course
}
c.CourseDirectory.root = os.environ["COURSE_HUB_COURSE"]
# Terminals run bash as a plain interactive shell: a login shell (Jupyter's default under a spawner) reads
# /etc/profile, which on Debian resets PATH and so loses the course's Python and nbgrader.
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
# Nbgrader -> Formgrader shows the formgrader inside the Lab, a frame of this same server; JupyterHub's default
# policy (frame-ancestors 'none') forbids every frame, so this server allows frames of its own pages only.
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
