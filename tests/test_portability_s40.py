"""What Windows lacks is never needed unguarded: a module only POSIX systems have is
imported inside `try: ... except ImportError` (and the code does without it), and no
signal is named that Windows' signal module has not. Read with `ast`, as
test_architecture.py reads imports; the fallbacks themselves are tested where they live
(tests/*/test_windows_s40.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_architecture import project_modules

# Standard-library modules Windows' Python does not have.
POSIX_ONLY = {
    "fcntl", "resource", "termios", "tty", "pty", "grp", "pwd", "posix", "syslog",
    "crypt", "spwd", "nis", "readline", "curses",
}  # fmt: skip
# The signals Windows' signal module defines.
WINDOWS_SIGNALS = {
    "SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM", "SIGBREAK",
    "CTRL_C_EVENT", "CTRL_BREAK_EVENT",
}  # fmt: skip


def _guarded(try_node: ast.Try) -> bool:
    """Whether one of the handlers catches ImportError (or a base of it)."""
    for handler in try_node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if handler.type is None or any(
            isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception")
            for n in names
        ):
            return True
    return False


def unguarded_posix_imports(path: Path) -> list[str]:
    found: list[str] = []

    def walk(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom) and not guarded:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            found.extend(
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name and name.split(".")[0] in POSIX_ONLY
            )
        if isinstance(node, ast.Try) and _guarded(node):
            for statement in node.body:
                walk(statement, True)
            for rest in (*node.handlers, *node.orelse, *node.finalbody):
                walk(rest, guarded)
            return
        for child in ast.iter_child_nodes(node):
            walk(child, guarded)

    walk(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def posix_signals(path: Path) -> list[str]:
    return [
        f"{path.name}:{node.lineno} signal.{node.attr}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "signal"
        and node.attr.startswith(("SIG", "CTRL_"))
        and node.attr not in WINDOWS_SIGNALS
        and not node.attr.startswith("SIG_")  # SIG_DFL, SIG_IGN
    ]


def test_no_module_windows_lacks_is_imported_unguarded() -> None:
    # Before: dataprep/output_folder.py imported fcntl at its top (`atri prep` failed to
    # start on Windows).
    found = [hit for path in project_modules().values() for hit in unguarded_posix_imports(path)]
    assert found == []


def test_no_signal_windows_lacks_is_named() -> None:
    found = [hit for path in project_modules().values() for hit in posix_signals(path)]
    assert found == []
