"""Content hashes of code, for rerun decisions: a workflow script and the styleflow modules it
imports, with comments, docstrings and formatting ignored.

Snakemake's ``code`` rerun trigger compares a script's *modification time* with its outputs', so
touching a script reruns its jobs and an edit to the library they import reruns nothing. The
workflow instead passes :func:`code_digest` of each rule's script as a param (rerun trigger
``params``): the digest changes when the script's or an imported module's syntax tree changes
(what it does), not when a file is touched, reformatted, or a comment or docstring is edited.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

#: The styleflow package folder (its modules are found here, not through the import system).
PACKAGE = Path(__file__).resolve().parent


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def _parsed(path: Path) -> tuple[str, tuple[str, ...]]:
    st = path.stat()
    return _parsed_at(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=None)
def _parsed_at(path: Path, mtime_ns: int, size: int) -> tuple[str, tuple[str, ...]]:
    """``(sha256 of the docstring-free syntax tree, styleflow modules imported anywhere in it)``
    of ``path`` as it is at ``mtime_ns`` and ``size`` (the cache key: an edited file is read again)."""
    tree = _strip_docstrings(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.append(node.module)
            imported += [f"{node.module}.{a.name}" for a in node.names]  # submodules imported by name
    wanted = tuple(sorted({m for m in imported if m == "styleflow" or m.startswith("styleflow.")}))
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest(), wanted


def _module_files(name: str) -> list[Path]:
    """The files importing ``name`` executes: its package ``__init__``s and the module itself."""
    parts = name.split(".")[1:]
    files = [PACKAGE / "__init__.py"]
    for i in range(1, len(parts) + 1):
        base = PACKAGE.joinpath(*parts[:i])
        if (base / "__init__.py").is_file():
            files.append(base / "__init__.py")
        elif base.with_suffix(".py").is_file() and i == len(parts):
            files.append(base.with_suffix(".py"))
    return files


def code_digest(script: str | Path) -> str:
    """A 16-hex-digit hash of ``script`` and every styleflow module it imports, transitively
    (function-local imports included): what the script does, not its files' times or comments."""
    todo, seen, digest = [Path(script).resolve()], set(), hashlib.sha256()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree_hash, imported = _parsed(path)
        digest.update(str(path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else path.name).encode())
        digest.update(tree_hash.encode())
        todo += [f for m in imported for f in _module_files(m) if f not in seen]
    return digest.hexdigest()[:16]
