"""JupyterHub configuration of the course: the file an instructor adapts for a real server.

``make hub`` (``python -m course_utils.instructor.hub start``) runs ``jupyterhub -f`` on this file as root,
with the settings below passed as ``COURSE_HUB_*`` environment variables. Run directly (a systemd unit, say),
the values written here apply: edit them for your server. The instructor guide
(docs/instructor-guide.md, "The course on a JupyterHub") walks through each one.

What it sets up: PAM log-in with the machine's Unix accounts; one single-user JupyterLab per account, started
as that account (LocalProcessSpawner: the hub runs as root), so that file permissions keep each student
out of the others' work; nbgrader's exchange folder for release, submission and feedback; the grader
account's server opens the course folder with the formgrader and the course list; students get the
assignment list and Validate only.
"""
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821  (provided by traitlets when JupyterHub loads this file)

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[2]  # the course's checkout: its .venv runs every server


def setting(name: str, default: str) -> str:
    """``COURSE_HUB_<name>`` from the environment (make hub sets it), else the default written here."""
    return os.environ.get(f"COURSE_HUB_{name}", default)


# ---------------------------------------------------------------------------------------------------------
# The settings an instructor adapts
# ---------------------------------------------------------------------------------------------------------
# Where the hub listens. 127.0.0.1: this machine only (a try-out). For a class, the server's address
# (or 0.0.0.0) and port 443, with TLS below.
IP = setting("IP", "127.0.0.1")
PORT = int(setting("PORT", "8000"))
# TLS: the certificate and key files (PEM) of the server's name, e.g. from Let's Encrypt. Without them the
# hub speaks plain HTTP: passwords then cross the network in clear, so never leave them empty unless the
# hub listens on 127.0.0.1 only or sits behind a proxy that does TLS.
TLS_CERT = setting("TLS_CERT", "")
TLS_KEY = setting("TLS_KEY", "")
# The grader account: the Unix account of the instructor. It owns the course folder; its server opens the
# course with the formgrader; release, collect, make grade and release_feedback run as this account.
GRADER = setting("GRADER", "grader")
# The students' Unix accounts allowed to log in (space-separated). For a class, list the roster here, or
# replace allowed_users below by `c.PAMAuthenticator.allowed_groups = {"bdl-students"}` (a Unix group).
STUDENTS = setting("STUDENTS", "student1 student2").split()
# The course folder: solutions/, notebooks/, nbgrader_config.py and grading/ (submissions, gradebook,
# feedback). Owned by the grader account and closed to everybody else (chmod 700): the hidden tests and the
# gradebook live there.
COURSE = setting("COURSE", os.path.join(os.path.expanduser("~" + GRADER), "bdl-course"))
# The course id under which nbgrader files the course in the exchange: CourseDirectory.course_id of the
# course folder's nbgrader_config.py (never executed here: the grader account may edit that file, the hub
# runs as root). Students' assignment lists and terminals use it.
COURSE_ID = setting("COURSE_ID", "bdl-particle-physics")
# nbgrader's exchange: every account must be able to enter it. Root-owned, mode 1777 (world-writable,
# sticky: nobody deletes another's files); nbgrader makes <course id>/outbound (0755: released assignments,
# readable by all), inbound (2733: students drop submissions but cannot list them) and feedback (0711:
# each student reads only the file whose name their own submission's secret gives).
EXCHANGE = setting("EXCHANGE", "/srv/nbgrader/exchange")
# The course's data, readable by every account (COURSE_DATA_DIR of every server; see "A data mirror").
DATA = setting("DATA", str(REPOSITORY / "data"))
# The hub's own files: its database (who is logged in, which server runs where), the cookie secret and
# the proxy's pid file. Root only.
STATE = Path(setting("STATE", str(REPOSITORY / "build" / "hub")))
# Internal ports: the hub's API (servers talk to it) and the proxy's API, both on 127.0.0.1 only.
HUB_API_PORT = int(setting("API_PORT", "8081"))
PROXY_API_PORT = int(setting("PROXY_API_PORT", "8001"))
# configurable-http-proxy, installed from npm by `make hub-proxy` into the environment's node folder.
PROXY = setting("PROXY", str(Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"))

# ---------------------------------------------------------------------------------------------------------
# The hub, from the settings above
# ---------------------------------------------------------------------------------------------------------
scheme = "https" if TLS_CERT else "http"
c.JupyterHub.bind_url = f"{scheme}://{IP}:{PORT}/"
if TLS_CERT:
    c.JupyterHub.ssl_cert = TLS_CERT
    c.JupyterHub.ssl_key = TLS_KEY
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{HUB_API_PORT}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.command = [PROXY]
STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
# Stopping the hub stops every server it started (and the proxy): nothing is left running.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# Log-in: PAM, i.e. each account's Unix password (the hub must run as root to check them). Other
# authenticators (your university's OAuth, LDAP) replace these lines; keep the user names equal to the
# Unix account names, since each server runs as the account of that name.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no PAM session (systemd-logind) per server; not needed here
c.Authenticator.allowed_users = {GRADER, *STUDENTS}
# No hub admins: an admin could open every student's server. Add the grader if you want that.
c.Authenticator.admin_users = set()

# Servers: one JupyterLab per account, started as that account (LocalProcessSpawner: setuid from the hub
# running as root), from the course's Python environment, with no per-user Jupyter config (a student's
# ~/.jupyter cannot switch on what the hub switched off).
class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose server runs in the folder it opens, not in the home: the grader's in the
    course folder, so that nbgrader's paths relative to the course (its gradebook's sqlite URL) mean in the
    formgrader what they mean in a terminal there."""

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        folder = self.notebook_dir

        def preexec():
            become_user()
            if os.path.isabs(folder):
                os.chdir(folder)

        return preexec


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.disable_user_config = True
# What servers inherit from the hub's own environment (nothing else: the hub's holds the proxy's secret):
# the locale and the course's data mirror ("A data mirror for a class" in the instructor guide).
c.Spawner.env_keep = ["JUPYTERHUB_SINGLEUSER_APP", "LANG", "LC_ALL", "COURSE_DATA_MIRROR", "COURSE_DATA_MIRROR_ONLY"]
# Starting JupyterLab on a busy small machine can take longer than the defaults (60 s, 30 s).
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


def configure_server(spawner) -> None:
    """Before each server starts: the grader's opens the course folder with the instructor's nbgrader
    extensions, a student's opens their home with the student's; every server gets the exchange and the data."""
    role = "grader" if spawner.user.name == GRADER else "student"
    spawner.environment = {
        **spawner.environment,
        "JUPYTER_CONFIG_PATH": str(HERE / "servers" / role),  # extensions, labconfig, students: nbgrader
        "COURSE_EXCHANGE": EXCHANGE,
        "COURSE_ID": COURSE_ID,
        "COURSE_DATA_DIR": DATA,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
    }
    if role == "grader":
        spawner.environment["COURSE_HUB_COURSE"] = COURSE
        spawner.environment["COURSE_CHECKOUT"] = str(REPOSITORY)  # the guide's `make -C "$COURSE_CHECKOUT" ...`
        spawner.notebook_dir = COURSE
    else:
        spawner.notebook_dir = "~"


c.Spawner.pre_spawn_hook = configure_server
