"""Probe inputs drawn anew for every submission: the seeds a grade cell's check sets, mixed with a secret salt.

A check seeds its draws (``torch.manual_seed(3)``, ``torch.Generator().manual_seed(200)``,
``np.random.default_rng(101)``) so that it is reproducible; written in the instructor's notebook, those
numbers are fixed, and a value a check once showed could be replayed by a later submission. Here every
seed a check passes to a seeding call goes through :func:`salted_seed` first: a keyed hash of the seed and
the submission's salt (:func:`submission_salt`), built from the course's probe key (a random secret in
the grader's ``grading/`` folder, never in a student's sandbox) and the submission's own code. So the
probes are unknown before grading, differ between two submissions that differ, and stay the same when
the same submission is graded again (serial, parallel and Dask runs agree).
"""
from __future__ import annotations

import ast
import hashlib
import hmac
import json
import numbers
import os
import secrets
from pathlib import Path

#: the calls whose first argument (or ``seed=``) is a seed: torch's and NumPy's
SEEDING_CALLS = frozenset({"manual_seed", "manual_seed_all", "default_rng", "seed", "RandomState"})
#: the name of the salted-seed function in a check's namespace
SALTED_SEED = "__probe_seed__"
#: where a course keeps its probe key, below its root
KEY_FILE = Path("grading") / "probe_key"
#: seeds stay below 2**31: every generator takes them
SEED_RANGE = 2**31 - 1


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


class _SaltSeeds(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if _call_name(node.func) not in SEEDING_CALLS:
            return node

        def salted(value: ast.expr) -> ast.expr:
            return ast.copy_location(ast.Call(ast.Name(SALTED_SEED, ast.Load()), [value], []), value)

        if node.args and not isinstance(node.args[0], ast.Starred):
            node.args[0] = salted(node.args[0])
        for keyword in node.keywords:
            if keyword.arg == "seed":
                keyword.value = salted(keyword.value)
        return node


def with_salted_seeds(source: str, filename: str) -> object:
    """``source`` compiled with every seed it passes to a seeding call wrapped in :data:`SALTED_SEED`."""
    tree = _SaltSeeds().visit(ast.parse(source, filename))
    return compile(ast.fix_missing_locations(tree), filename, "exec")


def salted_seed(salt: bytes | None):
    """The function a check's seeds go through: the seed itself without a salt, else a keyed hash of it."""

    def probe_seed(seed):
        if salt is None or isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            return seed  # a generator or None passed on (NumPy accepts both): nothing fixed to hide
        digest = hmac.new(salt, str(int(seed)).encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") % SEED_RANGE

    return probe_seed


def course_key(course_root: Path) -> bytes:
    """The course's probe key (``grading/probe_key``), made on first use: 32 random bytes, readable by the grader
    alone."""
    path = Path(course_root) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another grader process made it first
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"{path} holds no probe key: remove it and a new one is made")
    return text.encode()


def submission_salt(key: bytes, assignment: str, student: str, notebook: str, code: list[str]) -> bytes:
    """The salt of one submitted notebook: the course key's hash of who submitted what (``code``: the student's
    code cells as run), so that two different submissions get different probes and one submission always the same."""
    digest = hashlib.sha256("\0".join(code).encode()).hexdigest()
    return hmac.new(key, json.dumps([assignment, student, notebook, digest]).encode(), hashlib.sha256).digest()
