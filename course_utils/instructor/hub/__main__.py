"""python -m course_utils.instructor.hub {start,accounts} [options]

start     check, prepare the exchange and the grader's course folder, and run JupyterHub (make hub)
accounts  make the Unix accounts of a try-out: the grader and the students (make hub-accounts); the password
          is --password, else $HUB_PASSWORD, else a new one, printed; --remove deletes them again
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from . import accounts
from .launcher import HubSettings, start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.instructor.hub", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("start", "accounts"))
    parser.add_argument("--grader", default="grader", help="the instructor's Unix account (default: grader)")
    parser.add_argument("--students", nargs="*", default=["student1", "student2"], help="students' Unix accounts")
    parser.add_argument("--ip", default=None, help="start: address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="start: port (default 8000)")
    parser.add_argument("--course", type=Path, default=None, help="start: course folder (default ~grader/bdl-course)")
    parser.add_argument("--exchange", type=Path, default=None, help="start: exchange (default /srv/nbgrader/exchange)")
    parser.add_argument("--data", type=Path, default=None, help="start: the course data (default: this checkout's)")
    parser.add_argument("--state", type=Path, default=None, help="start: the hub's own files (default build/hub)")
    parser.add_argument("--api-port", type=int, default=None, help="start: the hub's internal API port (8081)")
    parser.add_argument("--proxy-api-port", type=int, default=None, help="start: the proxy's API port (8001)")
    parser.add_argument("--tls-cert", type=Path, default=None, help="start: TLS certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, default=None, help="start: TLS key (PEM)")
    parser.add_argument("--password", default=None, help="accounts: their password")
    parser.add_argument("--home-base", type=Path, default=None, help="accounts: folder of their homes (/home)")
    parser.add_argument("--remove", action="store_true", help="accounts: delete the accounts made here")
    args = parser.parse_args(argv)
    names = [args.grader, *args.students]

    if args.command == "accounts":
        if os.geteuid() != 0:
            print("error: making Unix accounts needs root", file=sys.stderr)
            return 2
        if args.remove:
            print(f"removed: {' '.join(accounts.remove(names)) or 'none'}")
            return 0
        password = args.password or os.environ.get("HUB_PASSWORD") or secrets.token_urlsafe(9)
        made = accounts.create(names, password, args.home_base)
        kept = [name for name in names if name not in made]
        if made:
            shown = password if not (args.password or os.environ.get("HUB_PASSWORD")) else "as given"
            print(f"made: {' '.join(made)} (password: {shown})")
        if kept:
            print(f"already there, left as they are: {' '.join(kept)}")
        return 0

    settings = HubSettings(ip=args.ip, port=args.port, grader=args.grader, students=args.students,
                           course=args.course, exchange=args.exchange, data=args.data, state=args.state,
                           api_port=args.api_port, proxy_api_port=args.proxy_api_port,
                           tls_cert=args.tls_cert, tls_key=args.tls_key)
    return start(settings)


if __name__ == "__main__":
    sys.exit(main())
