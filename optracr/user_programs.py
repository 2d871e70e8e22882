"""A user's program named in text: ``path/to/file.py:NAME`` or ``package.module:NAME``.

NAME is an s-op, or a function returning one, called with the options given (the command line gives none). A
file runs as a module, with its own directory first on ``sys.path`` while it runs (as for a script, so it can
import the modules beside it); a module is imported, the current directory searched after the installed
packages. Whatever goes wrong says which file, the line and the error, and what would work.

>>> from optracr import user_programs
>>> user_programs.load_program("optracr.programs:make_shuffle_dyck", {"pairs": ["()"]}).label
'shuffle_dyck'
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from optracr.errors import CompileError
from optracr.frontend import rasp

FORMS = "path/to/file.py:NAME or package.module:NAME"


@dataclasses.dataclass(frozen=True)
class ProgramReference:
    """``where:name``: ``where`` a path to a ``.py`` file (``is_file``) or an importable module's dotted name."""

    where: str
    name: str
    is_file: bool

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise CompileError(
                None, f"{self}: after the colon comes the Python name of an s-op or of a function returning one, "
                f"got {self.name!r}; write {FORMS}"
            )

    def __str__(self) -> str:
        return f"{self.where}:{self.name}"


def parse_reference(text: str) -> ProgramReference | None:
    """``text`` as ``file.py:NAME`` or ``module:NAME``; None when it has neither form (e.g. a library name)."""
    where, colon, name = text.rpartition(":")
    if not colon or not where:
        return None
    if where.endswith(".py") or "/" in where or os.sep in where:
        return ProgramReference(where, name, is_file=True)
    if all(part.isidentifier() for part in where.split(".")):
        return ProgramReference(where, name, is_file=False)
    return None


def load_program(
    target: str | ProgramReference, options: Mapping[str, Any] | None = None, *, caller: str = "it is called"
) -> rasp.SOp:
    """The s-op ``target`` names, or what its function returns called with ``options`` (``caller`` says who calls
    it, in messages).

    Raises:
      CompileError: no such file or module, an error while running it (named with its line), no such name,
        parameters the options do not give, or something that is not an s-op. An error raised inside the
        function while it builds the program propagates unchanged (``describe_error`` words it).
    """
    reference = _reference(target)
    module = load_module(reference)
    if not hasattr(module, reference.name):
        raise CompileError(None, f"{reference.where} has no {reference.name!r}; it defines {definitions(module)}")
    made = getattr(module, reference.name)
    options = dict(options or {})
    if callable(made) and not isinstance(made, rasp.RASPExpr):
        _check_arguments(reference, made, options, caller)
        made = made(**options)
    if not isinstance(made, rasp.SOp):
        raise CompileError(
            None, f"{reference}: expected an s-op or a function returning one, got {_kind(made)}"
            + ("; compile an s-op that uses the selector, e.g. rasp.SelectorWidth(selector)"
               if isinstance(made, rasp.Selector) else "")
        )
    return made


def load_module(reference: ProgramReference) -> types.ModuleType:
    """The module ``reference.where`` names: the file run, or the module imported."""
    return _run_file(reference) if reference.is_file else _import_module(reference)


def definitions(module: types.ModuleType) -> str:
    """The s-ops and functions ``module`` defines (its candidates for NAME), in words."""
    found = {name: value for name, value in vars(module).items() if not name.startswith("_")}
    sops = sorted(name for name, value in found.items() if isinstance(value, rasp.SOp))
    functions = sorted(
        name for name, value in found.items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
    )
    parts = [f"{kind}: {', '.join(names)}" for kind, names in (("s-ops", sops), ("functions", functions)) if names]
    return "; ".join(parts) if parts else "no s-op and no function"


def describe_error(error: BaseException, near: str | Path | None = None) -> str:
    """``error``'s last traceback line, with the deepest line of the file ``near`` (else of any file) it passed."""
    last = traceback.format_exception_only(type(error), error)[-1].strip()
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}, line {error.lineno}: {last}"
    frames = traceback.extract_tb(error.__traceback__)
    if near is not None:
        frames = [frame for frame in frames if _same_file(frame.filename, near)] or frames
    return f"{frames[-1].filename}, line {frames[-1].lineno}: {last}" if frames else last


def _reference(target: str | ProgramReference) -> ProgramReference:
    if isinstance(target, ProgramReference):
        return target
    reference = parse_reference(target)
    if reference is None:
        raise CompileError(None, f"{target!r} names no program: write {FORMS}")
    return reference


def _run_file(reference: ProgramReference) -> types.ModuleType:
    path = Path(reference.where)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CompileError(None, f"no such file {reference.where!r} (it {what}); write {FORMS}")
    spec = importlib.util.spec_from_file_location(f"optracr_user_program_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        with _on_sys_path(str(path.resolve().parent), first=True):
            spec.loader.exec_module(module)
    except SystemExit as error:
        raise CompileError(
            None, f"running {path} (for {reference}) called sys.exit({error.code!r}); put a script's own work "
            'under `if __name__ == "__main__":` so that loading the file only defines its programs'
        ) from None
    except Exception as error:
        raise CompileError(
            None, f"running {path} (for {reference}) raised an error at {describe_error(error, path)}; fix the "
            f"file (`python {path}` shows the whole traceback)"
        ) from None
    return module


def _import_module(reference: ProgramReference) -> types.ModuleType:
    try:
        with _on_sys_path(os.getcwd(), first=False):
            return importlib.import_module(reference.where)
    except ModuleNotFoundError as error:
        if error.name and (reference.where + ".").startswith(error.name + "."):
            raise CompileError(
                None, f"no module named {error.name!r} (for {reference}): it is neither installed nor in the "
                f"current directory; write {FORMS}"
            ) from None
        failure = error
    except Exception as error:
        failure = error
    raise CompileError(
        None, f"importing {reference.where} (for {reference}) raised an error at "
        f"{describe_error(failure, module_file(reference))}; fix the module (`python -c 'import {reference.where}'` "
        "shows the whole traceback)"
    )


def module_file(reference: ProgramReference) -> str | None:
    """The file ``reference`` runs or imports (None if no file can be found)."""
    if reference.is_file:
        return reference.where
    module = sys.modules.get(reference.where)
    if module is not None:
        return getattr(module, "__file__", None)
    try:
        spec = importlib.util.find_spec(reference.where)
    except (ImportError, ValueError):  # a parent package fails to import: no file to point at
        return None
    return spec.origin if spec is not None else None


def _check_arguments(reference: ProgramReference, function: Any, options: dict[str, Any], caller: str) -> None:
    """A CompileError naming the parameters if ``function`` cannot be called with ``options`` alone."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin or C function: let the call speak
        return
    try:
        signature.bind(**options)
    except TypeError as error:
        needed = [
            name for name, parameter in signature.parameters.items()
            if parameter.default is parameter.empty and name not in options
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        given = "with no arguments" if not options else f"with only {', '.join(f'{k}=...' for k in options)}"
        name = reference.name
        signature = signature.replace(  # names and defaults only: what the call needs
            parameters=[parameter.replace(annotation=parameter.empty) for parameter in signature.parameters.values()],
            return_annotation=signature.empty,
        )
        if not needed:
            raise CompileError(None, f"{reference}: {name}{signature} cannot be called {given}: {error}") from None
        one = len(needed) == 1
        raise CompileError(
            None, f"{reference}: {name}{signature} needs {'the parameter' if one else 'the parameters'} "
            f"{', '.join(needed)}, but {caller} {given}; give {'it a default' if one else 'them defaults'} "
            f"(def {name}({', '.join(f'{p}=...' for p in needed)})), or add a function without parameters that "
            f"calls it, e.g. def program(): return {name}(...)"
        ) from None


def _kind(value: object) -> str:
    name = type(value).__name__
    shown = f" ({value!r})" if isinstance(value, (int, float, str, bool)) else ""
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}{shown}"


def _same_file(first: str, second: str | Path) -> bool:
    try:
        return Path(first).resolve() == Path(second).resolve()
    except OSError:
        return False


@contextlib.contextmanager
def _on_sys_path(directory: str, *, first: bool) -> Iterator[None]:
    """``directory`` on ``sys.path`` (first or last) for the duration, unless it is there already."""
    if directory in sys.path:
        yield
        return
    if first:
        sys.path.insert(0, directory)
    else:
        sys.path.append(directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)
