"""A static scan, in the grader, of every cell a student could edit, for constructs an answer never needs.

The tests run in the same kernel as the student's code, after it. Code that reaches IPython's shell
(hooks, input and AST transformers, custom exception handlers), frames and tracebacks, the builtins,
``sys.modules``, ``exec``/``eval``, or that monkeypatches modules and the names the tests use, can make
failing tests pass or read the hidden tests; code that starts processes, opens sockets or reads the
grader's files has no place in an answer either. None of that is needed to answer an exercise of this
course, so a cell that contains it is flagged (the class run then gives every grade cell 0 and asks for
a manual grade). Comments and strings in comments are never flagged; a cell that does not parse is not
flagged (it cannot run either).

Which cells: every code cell whose source is not the instructor's (the release's, or a test or locked
cell nbgrader restored from the source), i.e. answer cells, instructor cells the student edited and
cells the student added. IPython syntax (magics, ``!`` commands) is translated as IPython translates it;
a few harmless magics are allowed, and the code of ``%time``/``%%timeit``/``%%capture`` is scanned too.
"""
from __future__ import annotations

import ast
import builtins
import functools
import re
from dataclasses import dataclass, field

#: modules an answer never imports: IPython and Jupyter, introspection, processes, network, code loading
FORBIDDEN_MODULES = {
    "IPython": "IPython's shell", "ipykernel": "the kernel", "jupyter_client": "the kernel's messaging",
    "jupyter_core": "Jupyter", "zmq": "the kernel's sockets", "traitlets": "IPython's configuration",
    "comm": "the kernel's comms", "nbformat": "notebook files", "nbclient": "the notebook runner",
    "nbconvert": "the notebook runner", "nbgrader": "the grader", "builtins": "the builtins",
    "__builtin__": "the builtins", "inspect": "frames and sources", "traceback": "frames",
    "linecache": "cell sources", "gc": "every object in memory", "ctypes": "raw memory", "cffi": "raw memory",
    "_ctypes": "raw memory", "sys_monitoring": "tracing", "importlib": "module loading", "imp": "module loading",
    "pkgutil": "module loading", "runpy": "running code", "code": "running code", "codeop": "running code",
    "types": "building functions and code objects", "pickle": "running code from data",
    "_pickle": "running code from data", "marshal": "code objects", "shelve": "running code from data",
    "dill": "running code from data", "cloudpickle": "running code from data", "copyreg": "pickling hooks",
    "subprocess": "processes", "multiprocessing": "processes", "concurrent": "processes and threads",
    "threading": "threads", "_thread": "threads", "signal": "signals", "pty": "processes", "posix": "processes",
    "resource": "resource limits", "socket": "the network", "ssl": "the network", "http": "the network",
    "urllib": "the network", "urllib3": "the network", "requests": "the network", "ftplib": "the network",
    "smtplib": "the network", "asyncio": "the event loop", "selectors": "sockets", "select": "sockets",
    "site": "the interpreter's start-up", "atexit": "exit hooks", "faulthandler": "the interpreter",
    "tracemalloc": "tracing", "sysconfig": "the interpreter", "unittest": "mocking", "mock": "mocking",
    "pytest": "test machinery", "operator": "attribute access by name", "course_utils.instructor": "the grader",
    "course_utils.grading": "the probe server that answers the grader's checks",
    "course_utils.gradecells": "the course's test helpers",
    "ast": "rewriting code", "dis": "code objects", "tokenize": "rewriting code", "symtable": "code objects",
    "joblib": "running code from data", "yaml": "running code from data", "pkg_resources": "module loading",
    "importlib_metadata": "module loading", "cffi": "raw memory",
    # each runs code given as a string (timeit.timeit(stmt=...), profile.run(...), a debugger's commands, doctests)
    "timeit": "running code from strings", "profile": "running code from strings", "cProfile": "running code from strings",
    "pdb": "running code from strings", "bdb": "running code from strings", "doctest": "running code from strings",
    "trace": "running code from strings", "torch.utils.benchmark": "running code from strings",
    "sympy": "running code from strings",
}
#: dotted names (after resolving import aliases) an answer never uses; a prefix matches its attributes too
FORBIDDEN_DOTTED = {
    "os.system": "processes", "os.popen": "processes", "os.fork": "processes", "os.forkpty": "processes",
    "os.kill": "signals", "os.killpg": "signals", "os._exit": "killing the kernel", "os.abort": "killing the kernel",
    "os.setsid": "detaching processes", "os.setpgid": "detaching processes", "os.setpgrp": "detaching processes",
    "os.daemon": "processes", "os.spawnl": "processes", "os.spawnle": "processes", "os.spawnlp": "processes",
    "os.spawnv": "processes", "os.spawnve": "processes", "os.spawnvp": "processes", "os.posix_spawn": "processes",
    "os.posix_spawnp": "processes", "os.execl": "processes", "os.execle": "processes", "os.execlp": "processes",
    "os.execv": "processes", "os.execve": "processes", "os.execvp": "processes", "os.execvpe": "processes",
    "os.register_at_fork": "processes", "os.setuid": "privileges", "os.setgid": "privileges", "os.chroot": "the file system",
    "os.symlink": "links", "os.link": "links", "os.pidfd_open": "processes",
    "torch.library": "overriding torch's operators", "torch.overrides": "overriding torch's functions",
    "torch.ops": "torch's operator registry", "torch.hub": "downloading code", "torch.utils.cpp_extension": "compiling code",
    "torch.fx": "rewriting code", "torch.compile": "rewriting bytecode", "torch._dynamo": "rewriting bytecode",
    "torch.export": "rewriting code", "torch.package": "loading code", "torch.multiprocessing": "processes",
    "numpy.ctypeslib": "raw memory",
    "pandas.read_pickle": "running code from data", "shutil.rmtree": "deleting folders",
}
#: attributes of ``sys`` an answer may use (every other one is flagged)
SYS_ALLOWED = {"version", "version_info", "float_info", "int_info", "maxsize", "platform", "byteorder", "stdout",
               "stderr", "getsizeof", "float_repr_style", "implementation", "executable", "exit", "argv"}
#: names in the student's namespace that lead to IPython, the cells' history or code execution
FORBIDDEN_NAMES = {
    "get_ipython": "IPython's shell", "In": "the cells' sources", "Out": "the cells' results",
    "_ih": "the cells' sources", "_oh": "the cells' results", "_dh": "IPython's history", "_i": "the cells' sources",
    "_ii": "the cells' sources", "_iii": "the cells' sources", "exit": "IPython's shell", "quit": "IPython's shell",
    "exec": "running code from text", "eval": "running code from text", "compile": "building code",
    "__import__": "module loading", "globals": "the namespace the tests run in", "locals": "frames",
    "vars": "the namespace the tests run in", "breakpoint": "the debugger", "__builtins__": "the builtins",
    "__builtin__": "the builtins", "__loader__": "module loading", "__spec__": "module loading",
}
HISTORY_NAME = re.compile(r"_(i)?\d+$")  # _i12 (a cell's source), _12 (a cell's result)
#: attributes that lead to IPython's hooks, frames, code objects or the object graph
FORBIDDEN_ATTRIBUTES = {
    "input_transformers_post": "IPython's input transformers",
    "input_transformers_cleanup": "IPython's input transformers", "input_transformer_manager": "IPython's input transformers",
    "ast_transformers": "IPython's AST transformers", "set_custom_exc": "IPython's exception handling",
    "showtraceback": "IPython's error reports", "showsyntaxerror": "IPython's error reports",
    "_showtraceback": "IPython's error reports", "run_cell": "IPython's shell", "run_ast_nodes": "IPython's shell",
    "user_ns": "the namespace the tests run in", "user_global_ns": "the namespace the tests run in",
    "displayhook": "output hooks", "display_pub": "output hooks", "excepthook": "exception hooks",
    "custom_exceptions": "IPython's exception handling", "settrace": "tracing", "setprofile": "tracing",
    "_getframe": "frames", "addaudithook": "audit hooks",
    "f_globals": "frames", "f_locals": "frames", "f_back": "frames", "f_builtins": "frames", "f_code": "frames",
    "f_trace": "tracing", "f_lineno": "frames", "tb_frame": "frames", "tb_next": "frames", "gi_frame": "frames",
    "cr_frame": "frames", "ag_frame": "frames", "gi_code": "code objects", "co_code": "code objects",
    "co_consts": "code objects", "__globals__": "the namespace of a function", "__builtins__": "the builtins",
    "__code__": "code objects", "__closure__": "closures", "__subclasses__": "every class in memory",
    "__bases__": "class internals", "__mro__": "class internals", "__base__": "class internals",
    "__dict__": "object internals", "__class__": "object internals", "__self__": "bound objects",
    "__func__": "bound objects", "__wrapped__": "wrapped functions", "__getattribute__": "attribute access",
    "__setattr__": "attribute assignment", "__delattr__": "attribute deletion", "__import__": "module loading",
    "__loader__": "module loading", "__spec__": "module loading", "__traceback__": "frames",
    "__reduce__": "pickling hooks", "__reduce_ex__": "pickling hooks", "__defaults__": "function internals",
    "__kwdefaults__": "function internals", "__set_name__": "class internals", "__init_subclass__": "class internals",
}
#: methods whose definition in a class makes objects lie to comparisons and conversions in tests
FORBIDDEN_METHODS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__", "__int__",
                     "__index__", "__complex__", "__abs__", "__round__", "__instancecheck__", "__subclasscheck__",
                     "__torch_function__", "__torch_dispatch__", "__array__", "__array_function__", "__array_ufunc__",
                     "__array_wrap__", "__array_finalize__", "__array_priority__", "__getattr__", "__getattribute__",
                     "__hash__", "__class_getitem__", "__init_subclass__", "__set_name__", "__del__"}
#: classes an answer never subclasses (objects that could lie to the tests' comparisons)
FORBIDDEN_BASES = {"torch.Tensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter", "numpy.ndarray",
                   "numpy.generic", "float", "int", "bool", "complex", "type", "tuple", "list", "dict", "str"}
#: module attributes an answer may assign (settings, not behaviour)
ASSIGNABLE = ("torch.backends.", "pandas.options.", "numpy.random.seed")
#: harmless IPython magics; for these the code they run is scanned too
ALLOWED_LINE_MAGICS = {"matplotlib", "time", "timeit", "precision", "pinfo", "pinfo2", "psearch", "who", "whos", "pwd"}
ALLOWED_CELL_MAGICS = {"time", "timeit", "capture"}
PATH_LIKE = re.compile(r"^(/(proc|sys|etc|dev|root|home|run|var|tmp|usr|opt|srv|mnt|work|build)\b|/[A-Za-z_.-]+/|~|\.\.(/|$))"
                       r"|/\.\./|/proc/")
NETWORK_LIKE = re.compile(r"^(https?|ftp|tcp|udp|ws|wss|file)://|^\d{1,3}(\.\d{1,3}){3}(:\d+)?$|^localhost(:\d+)?$", re.I)
MARKERS = re.compile(r"(BEGIN|END) (HIDDEN TESTS|SOLUTION)")
#: strings that name what the rules above forbid (``getattr(x, "f_globals")``, ``type("T", (), {"__eq__": f})``)
FORBIDDEN_STRINGS = ({"get_ipython", "user_ns", "user_global_ns", "ast_transformers", "input_transformers_post",
                      "input_transformers_cleanup", "set_custom_exc", "showtraceback", "settrace", "setprofile",
                      "_getframe", "f_globals", "f_locals", "f_back", "f_builtins", "tb_frame", "gi_frame"}
                     | {name for name in (*FORBIDDEN_NAMES, *FORBIDDEN_ATTRIBUTES, *FORBIDDEN_METHODS)
                        if name.startswith("__") and name.endswith("__")})
#: a format string that reads attributes or items of its arguments' internals: "{0.__class__}"
BRACED = re.compile(r"\{([^{}]*)\}")
#: string constants longer than this are flagged unread (no answer of the course holds one; a regular
#: expression over megabytes of crafted text could take the grader hours)
MAX_SCANNED_STRING = 20_000


def format_internals(text: str) -> bool:
    """Whether ``text`` holds a format field that reads internals, ``{x.__class__}`` or ``{0[_x]}``: a "." or "["
    before a "_" inside one pair of braces (in linear time: no backtracking on crafted text)."""
    for match in BRACED.finditer(text):
        field = match.group(1)
        starts = [i for i in (field.find("."), field.find("[")) if i >= 0]
        if starts and field.rfind("_") > min(starts):
            return True
    return False
BUILTIN_NAMES = set(dir(builtins))
#: modules that other modules' attributes expose (``torch.sys``): a rule applies there too
REEXPORTED = {"sys", "os", "builtins"} | {name for name in FORBIDDEN_MODULES if "." not in name}


#: why a cell the scan cannot follow to the end is flagged all the same
UNSCANNABLE = "the scan cannot check what it does; an instructor reads it"


@dataclass(frozen=True)
class Finding:
    """One construct an answer never needs, where it is."""

    cell: int   # index of the cell in the notebook as graded
    line: int
    what: str   # the construct, e.g. "get_ipython"
    why: str    # what it reaches

    def __str__(self) -> str:
        return f"cell {self.cell}, line {self.line}: {self.what} ({self.why})"


@dataclass
class Context:
    """What the scan knows of the instructor's notebook: the names its cells import (name -> dotted
    origin) and the names the tests use that the student must not redefine (name -> what it is)."""

    imports: dict[str, str] = field(default_factory=dict)
    protected: dict[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=4096)
def python_of(source: str) -> str:
    """The Python code IPython runs for a cell (magics and ``!`` commands become ``get_ipython()`` calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython cannot translate it: it cannot run it either
        return source


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(python_of(source))
    except (SyntaxError, ValueError):
        return None


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None when the chain does not start at a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _imports_of(tree: ast.AST) -> dict[str, str]:
    """Names bound by import statements anywhere in ``tree``: name -> dotted origin."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _module_level_bindings(tree: ast.Module) -> list[tuple[str, ast.AST, str | None]]:
    """Names a cell binds in the notebook's namespace: (name, node, dotted origin when bound by an import)."""
    bound: list[tuple[str, ast.AST, str | None]] = []

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            bound.append((node.id, node, None))
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def walk(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.append((node.name, node, None))
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for target in getattr(node, "targets", [getattr(node, "target", None)]):
                    targets(target)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    bound.append((name, node, alias.name if alias.asname else alias.name.split(".")[0]))
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name != "*":
                        bound.append((alias.asname or alias.name, node, f"{node.module}.{alias.name}"))
            elif isinstance(node, (ast.Delete, ast.Global)):
                for target in getattr(node, "targets", []):
                    targets(target)
                for name in getattr(node, "names", []):
                    bound.append((name, node, None))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # names bound inside are local to the function or class
            for name in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, name, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], (ast.stmt, ast.ExceptHandler)):
                    walk([s for s in inner if isinstance(s, ast.stmt)] +
                         [s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body])

    walk(tree.body)
    return bound


def context_of(instructor_cells: list[str], test_cells: list[str], answer_cells: list[str] = ()) -> Context:
    """The scan's context from the instructor's code cells (everything but the answers), the test cells and
    the answer cells of the source (the names these define are the student's to define)."""
    context = Context()
    answers = {name for source in answer_cells for name, _, _ in _module_level_bindings(_parse(source) or ast.Module([], []))}
    defined: dict[str, str] = {}
    for source in instructor_cells:
        tree = _parse(source)
        if tree is None:
            continue
        context.imports.update(_imports_of(tree))
        for name, node, origin in _module_level_bindings(tree):
            if origin is not None:
                defined[name] = f"the module or object {origin} that the notebook imports"
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined[name] = "a function or class the notebook provides"
    for source in test_cells:
        tree = _parse(source)
        if tree is None:
            continue
        local = {name for name, _, _ in _module_level_bindings(tree)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
                if node.id in answers:
                    continue
                if node.id in defined:
                    context.protected[node.id] = defined[node.id]
                elif node.id in BUILTIN_NAMES:
                    context.protected[node.id] = "a builtin the tests use"
    for name, origin in context.imports.items():
        context.protected.setdefault(name, f"the module or object {origin} that the notebook imports")
    return context


class _Visitor(ast.NodeVisitor):
    def __init__(self, imports: dict[str, str]):
        self.imports = imports
        self.found: list[tuple[int, str, str]] = []

    def flag(self, node: ast.AST, what: str, why: str) -> None:
        self.found.append((getattr(node, "lineno", 0), what, why))

    def resolve(self, parts: list[str]) -> str:
        origin = self.imports.get(parts[0])
        return ".".join([origin, *parts[1:]]) if origin else ".".join(parts)

    def check_dotted(self, node: ast.AST, dotted: str) -> bool:
        """Flag ``dotted`` (an imported name's origin and attributes) when a rule forbids it, also when it is
        reached through another module's attributes (``torch.sys.modules``, ``numpy.os.system``)."""
        parts = dotted.split(".")
        return any(self._check_one(node, ".".join(parts[i:])) for i in range(len(parts))
                   if i == 0 or parts[i] in REEXPORTED)

    def _check_one(self, node: ast.AST, dotted: str) -> bool:
        root = dotted.split(".")[0]
        for forbidden, why in FORBIDDEN_MODULES.items():
            if dotted == forbidden or dotted.startswith(forbidden + "."):
                self.flag(node, dotted, why)
                return True
        for forbidden, why in FORBIDDEN_DOTTED.items():
            if dotted == forbidden or dotted.startswith(forbidden + "."):
                self.flag(node, dotted, why)
                return True
        parts = dotted.split(".")
        if root == "sys" and len(parts) > 1 and parts[1] not in SYS_ALLOWED:
            self.flag(node, dotted, "the interpreter's internals")
            return True
        private = [p for p in parts[1:] if p.startswith("_") and not (p.startswith("__") and p.endswith("__"))]
        if root in {o.split(".")[0] for o in self.imports.values()} | {"torch", "numpy", "math", "course_utils"} and private:
            self.flag(node, dotted, "private internals of a module")
            return True
        return False

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.check_dotted(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.flag(node, "relative import", "module loading")
            return
        if not self.check_dotted(node, node.module or ""):
            for alias in node.names:
                if alias.name == "*":
                    continue
                self.check_dotted(node, f"{node.module}.{alias.name}")
                if alias.name in FORBIDDEN_NAMES or alias.name in FORBIDDEN_ATTRIBUTES:
                    self.flag(node, f"{node.module}.{alias.name}", FORBIDDEN_NAMES.get(alias.name) or FORBIDDEN_ATTRIBUTES[alias.name])

    # names and attributes
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.flag(node, node.id, FORBIDDEN_NAMES[node.id])
        elif HISTORY_NAME.match(node.id):
            self.flag(node, node.id, "IPython's history of cells")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.flag(node, "." + node.attr, FORBIDDEN_ATTRIBUTES[node.attr])
        elif node.attr in FORBIDDEN_METHODS and not isinstance(node.ctx, ast.Load):
            self.flag(node, f".{node.attr} = ...", "objects that can lie to the tests' comparisons")
        else:
            parts = _dotted(node)
            if parts and parts[0] in self.imports:
                self.check_dotted(node, self.resolve(parts))
        self.generic_visit(node)

    # strings
    def visit_Constant(self, node: ast.Constant) -> None:
        if not isinstance(node.value, str):
            return
        text = node.value.strip()
        if len(text) > MAX_SCANNED_STRING:
            self.flag(node, repr(text[:40]), f"a string of {len(text)} characters (not read by the scan)")
        elif text in FORBIDDEN_STRINGS:
            self.flag(node, repr(text), "a forbidden name written as text")
        elif format_internals(text):
            self.flag(node, repr(text[:40]), "object internals read by a format string")
        elif MARKERS.search(text):
            self.flag(node, repr(text[:40]), "the markers of the hidden tests and solutions")
        elif NETWORK_LIKE.search(text):
            self.flag(node, repr(text[:40]), "the network")
        elif PATH_LIKE.search(text):
            self.flag(node, repr(text[:40]), "files outside the working folder")

    # calls
    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
            target, attribute = node.args[0], node.args[1]
            parts = _dotted(target)
            on_module = parts is not None and parts[0] in self.imports
            if not (isinstance(attribute, ast.Constant) and isinstance(attribute.value, str)):
                self.flag(node, f"{name}(..., <computed name>)", "attribute access by a computed name")
            elif attribute.value in FORBIDDEN_ATTRIBUTES:
                self.flag(node, f"{name}(..., {attribute.value!r})", FORBIDDEN_ATTRIBUTES[attribute.value])
            elif on_module:
                dotted = self.resolve(parts + [attribute.value])
                if name in ("setattr", "delattr") and not dotted.startswith(ASSIGNABLE):
                    self.flag(node, f"{name}({'.'.join(parts)}, {attribute.value!r})", "monkeypatching a module")
                else:
                    self.check_dotted(node, dotted)
        parts = _dotted(node.func)
        dotted = self.resolve(parts) if parts else ""
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if dotted in ("torch.load",) and not (isinstance(keywords.get("weights_only"), ast.Constant)
                                              and keywords["weights_only"].value is True):
            self.flag(node, "torch.load without weights_only=True", "running code from data")
        for name, unsafe in (("allow_pickle", True), ("weights_only", False)):
            value = keywords.get(name)
            if value is not None and not (isinstance(value, ast.Constant) and value.value is not unsafe):
                self.flag(node, f"{name}={ast.unparse(value)}", "running code from data")
        self.generic_visit(node)

    # classes: objects that lie to comparisons
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            parts = _dotted(base)
            if parts and self.resolve(parts) in FORBIDDEN_BASES:
                self.flag(node, f"class {node.name}({'.'.join(parts)})", "objects that can lie to the tests' comparisons")
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.flag(node, f"class {node.name}(metaclass=...)", "class internals")
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in FORBIDDEN_METHODS:
                self.flag(item, f"{node.name}.{item.name}", "objects that can lie to the tests' comparisons")
            elif isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id in FORBIDDEN_METHODS for t in item.targets):
                self.flag(item, f"{node.name}.<special method>", "objects that can lie to the tests' comparisons")
        self.generic_visit(node)

    # assignments: monkeypatching
    def _assigned(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assigned(element, node)
        elif isinstance(target, ast.Starred):
            self._assigned(target.value, node)
        elif isinstance(target, ast.Attribute):
            parts = _dotted(target)
            if parts and parts[0] in self.imports:
                dotted = self.resolve(parts)
                if not dotted.startswith(ASSIGNABLE):
                    self.flag(node, f"{'.'.join(parts)} = ...", "monkeypatching a module")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._assigned(target, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assigned(node.target, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assigned(node.target, node)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._assigned(target, node)
        self.generic_visit(node)


def _magic_calls(tree: ast.Module) -> tuple[list[tuple[int, str, str]], list[str], set[int]]:
    """IPython's translated magics: (findings for forbidden ones, code the allowed ones run, ids of their nodes)."""
    found, inner, allowed = [], [], set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call) and _dotted(node.func.value.func) == ["get_ipython"]
                and not node.func.value.args):
            continue
        method, args = node.func.attr, node.args
        name = args[0].value if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str) else None
        constant = all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args)
        if method == "run_line_magic" and name in ALLOWED_LINE_MAGICS and constant and len(args) == 2:
            if name in ("time", "timeit"):
                inner.append(args[1].value)
            allowed.add(id(node.func.value.func))
        elif method == "run_cell_magic" and name in ALLOWED_CELL_MAGICS and constant and len(args) == 3:
            inner.append(args[2].value)
            allowed.add(id(node.func.value.func))
        elif method in ("system", "getoutput"):
            found.append((node.lineno, "!shell command", "processes"))
            allowed.add(id(node.func.value.func))
        elif method in ("run_line_magic", "run_cell_magic"):
            found.append((node.lineno, f"%{name or '?'} magic", "IPython's shell"))
            allowed.add(id(node.func.value.func))
    return found, inner, allowed


def scan_source(source: str, imports: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """(line, construct, why) for each construct an answer never needs in one cell's ``source``."""
    tree = _parse(source)
    if tree is None:
        return []
    imports = {**(imports or {}), **_imports_of(tree)}
    found, inner, allowed = _magic_calls(tree)
    visitor = _Visitor(imports)
    visitor.visit(tree)
    found += [f for f in visitor.found if not (f[1] == "get_ipython" and _is_allowed_magic(tree, f[0], allowed))]
    for code in inner:
        found += scan_source(code, imports)
    return sorted(set(found))


def _is_allowed_magic(tree: ast.Module, line: int, allowed: set[int]) -> bool:
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "get_ipython" and n.lineno == line]
    return bool(names) and all(id(n) in allowed for n in names)


def scan_bindings(source: str, context: Context, imports: dict[str, str]) -> list[tuple[int, str, str]]:
    """Names the tests rely on that a cell rebinds in the notebook's namespace (a re-import of the same
    module is fine)."""
    tree = _parse(source)
    if tree is None:
        return []
    found = []
    for name, node, origin in _module_level_bindings(tree):
        if name not in context.protected:
            continue
        if origin is not None and name in context.imports and origin == context.imports[name]:
            continue  # the same module or object imported again
        found.append((getattr(node, "lineno", 0), f"rebinds {name}", context.protected[name]))
    return found


def scan_cells(cells: list[tuple[int, str]], context: Context) -> list[Finding]:
    """Findings in the student-editable ``cells`` (index, source) of one notebook."""
    imports = dict(context.imports)
    findings, scannable = [], []
    for index, source in cells:
        try:
            tree = _parse(source)
            if tree is not None:
                imports.update({k: v for k, v in _imports_of(tree).items() if k not in imports})
            scannable.append((index, source))
        except (RecursionError, MemoryError):  # nested deeper than the scan can follow: it cannot vouch for it
            findings.append(Finding(index, 1, "code nested too deeply to scan", UNSCANNABLE))
    for index, source in scannable:
        try:
            found = scan_source(source, imports) + scan_bindings(source, context, imports)
        except (RecursionError, MemoryError):
            found = [(1, "code nested too deeply to scan", UNSCANNABLE)]
        findings += [Finding(index, line, what, why) for line, what, why in found]
    return findings


@functools.lru_cache(maxsize=16)
def _cached_context(instructor: tuple[str, ...], tests: tuple[str, ...], answers: tuple[str, ...]) -> Context:
    return context_of(list(instructor), list(tests), list(answers))


def editable_cells(notebook, trusted_sources: set[str]) -> list[tuple[int, str]]:
    """(index, source) of the code cells whose source is not one of the instructor's ``trusted_sources``."""
    return [(index, cell.source) for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and cell.source.strip() and cell.source not in trusted_sources]


def scan_notebook(notebook, source_notebook, release_notebook) -> list[Finding]:
    """Findings in ``notebook`` (a submission as nbgrader runs it: tests and locked cells restored), judged
    against the assignment's ``source_notebook`` (the instructor's) and ``release_notebook`` (the students')."""
    code = [c for c in source_notebook.cells if c.cell_type == "code"]
    answers = [c.source for c in code if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    instructor = [c for c in code if not c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    tests = [c.source for c in instructor if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    trusted = {c.source for c in instructor} | {c.source for c in release_notebook.cells if c.cell_type == "code"}
    context = _cached_context(tuple(c.source for c in instructor), tuple(tests), tuple(answers))
    return scan_cells(editable_cells(notebook, trusted), context)
