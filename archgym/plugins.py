"""Plug-ins: modules and Python files that register problems, backends and agents when imported.

A plug-in is named by a module (imported as usual) or by a ``.py`` file. A
file is imported under its own name (``tabu_agent.py`` as ``tabu_agent``), or
as ``archgym_plugin_<name>`` when another module already has that name, and
the modules beside it are importable by it, as those beside a script are
(behind installed modules of the same name). Loading a plug-in that is
loaded already does nothing, so every command, and every worker process of a
sweep, can load the same list.

Installed packages declare their plug-ins as entry points instead
(:data:`archgym.problem.ENTRY_POINT_GROUP`,
:data:`archgym.agent.AGENT_ENTRY_POINT_GROUP`,
:data:`archgym.cost_model.BACKEND_ENTRY_POINT_GROUP`); those need no loading.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import keyword
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType
from typing import Any

from archgym.errors import PluginError

__all__ = ["describe_error", "is_plugin_file", "load_entry_point", "load_plugin", "load_plugins", "plugin_file_loaded"]

FILE_MODULE_PREFIX = "archgym_plugin_"
"""Prefix of the module name of a plug-in file whose own name another module has."""


class _BesidePluginFiles(importlib.abc.MetaPathFinder):
    """Finds top-level modules in the folders of the plug-in files loaded, after every other finder."""

    def __init__(self) -> None:
        self.folders: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if path is not None or not self.folders:
            return None  # submodules are found through their package's own path
        return importlib.machinery.PathFinder.find_spec(fullname, self.folders, target)

    def add(self, folder: Path) -> None:
        if str(folder) not in self.folders:
            self.folders.append(str(folder))
        if self not in sys.meta_path:
            sys.meta_path.append(self)


_BESIDE_PLUGIN_FILES = _BesidePluginFiles()


def load_plugins(plugins: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    """Load each plug-in (see :func:`load_plugin`), in order.

    Returns:
        How to name each one from any working directory (absolute paths for files).

    Raises:
        PluginError: a file does not exist, or a plug-in fails to import.
    """
    return tuple(load_plugin(plugin) for plugin in plugins)


def load_plugin(plugin: str | os.PathLike[str]) -> str:
    """Import a plug-in: a module name, or the path of a ``.py`` file.

    Returns:
        The module name, or the file's absolute path.

    Raises:
        PluginError: the file does not exist or is not a Python file, or importing fails; the
            message names the plug-in and the error (with its file and line).
    """
    text = os.fspath(plugin)
    if not is_plugin_file(text):
        _import(text, lambda: importlib.import_module(text))
        return text
    path = Path(text).expanduser().resolve()
    if path.suffix != ".py":
        raise PluginError(f"plug-in {text!r} is neither a module name nor a .py file")
    if not path.is_file():
        raise PluginError(f"plug-in file {text} does not exist")
    _BESIDE_PLUGIN_FILES.add(path.parent)
    name = _module_name(path)
    if not _is_file(sys.modules.get(name), path):
        _import(text, lambda: _exec_file(name, path))
    return str(path)


def is_plugin_file(plugin: str | os.PathLike[str]) -> bool:
    """Whether ``plugin`` names a file (a path, or a ``.py`` name) rather than a module."""
    text = os.fspath(plugin)
    if text.endswith(".py") or os.sep in text or "/" in text:
        return True
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # a name too long, or with a NUL, is no file
        return False


def plugin_file_loaded(path: str | os.PathLike[str]) -> bool:
    """Whether the plug-in file at ``path`` has been loaded in this process."""
    resolved = Path(path).expanduser().resolve()
    return any(_is_file(module, resolved) for module in list(sys.modules.values()))


def _module_name(path: Path) -> str:
    """The plug-in file's own name, unless another module has it."""
    stem = path.stem
    if not stem.isidentifier() or keyword.iskeyword(stem):
        return FILE_MODULE_PREFIX + "".join(c if c.isalnum() else "_" for c in stem)
    if stem in sys.modules:
        return stem if _is_file(sys.modules[stem], path) else FILE_MODULE_PREFIX + stem
    try:
        found = importlib.util.find_spec(stem)
    except (ImportError, ValueError):
        found = None
    same = found is None or (found.origin is not None and Path(found.origin).resolve() == path)
    return stem if same else FILE_MODULE_PREFIX + stem


def _is_file(module: ModuleType | None, path: Path) -> bool:
    location = getattr(module, "__file__", None)
    return location is not None and Path(location).resolve() == path


def _exec_file(name: str, path: Path) -> None:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plug-in file {path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    # In sys.modules while it runs, so that its dataclasses, its pickled objects and its neighbours find it.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise


def load_entry_point(point: EntryPoint, declares: str) -> Any:
    """Load an installed package's entry point, which declares ``declares`` (e.g. ``"agent 'tabu'"``).

    Raises:
        PluginError: loading fails; the message names the entry point and the error.
    """
    try:
        return point.load()
    except Exception as error:  # noqa: BLE001 - a package's own code can raise anything while it is imported
        raise PluginError(
            f"{declares} is declared by the entry point {point.value!r}, which fails to load: {describe_error(error)}"
        ) from None


def _import(plugin: str, load: Callable[[], object]) -> None:
    try:
        load()
    except PluginError:
        raise
    except Exception as error:  # noqa: BLE001 - a plug-in's own code can raise anything while it is imported
        raise PluginError(f"plug-in {plugin} could not be imported: {describe_error(error)}") from None


# Frozen modules, the standard library and ArchGym: a frame there is not a line of the plug-in's code.
_NOT_PLUGIN_CODE = ("<", *{sysconfig.get_path(kind) for kind in ("stdlib", "platstdlib")}, str(Path(__file__).parent))


def describe_error(error: Exception) -> str:
    """``Type: message``, and the innermost line outside the standard library and ArchGym that raised it."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, SyntaxError):
        return text  # the message says where already
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(_NOT_PLUGIN_CODE)]
    if frames:
        text += f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})"
    return text
