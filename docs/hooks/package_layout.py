"""Let the API reference find ``archgym.agents`` and ``archgym.simulators``, which live outside ``archgym/``.

pyproject.toml installs the folders ``agents/`` and ``simulators/`` as
subpackages of ``archgym`` (``[tool.setuptools] package-dir``). mkdocstrings
reads sources without importing them and looks for ``archgym.agents`` in
``archgym/agents``, where it is not. This hook lays out the installed package
in a temporary folder (symbolic links to the sources, arranged as
``package-dir`` says) and points mkdocstrings' Python handler at it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import tomllib
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

_layouts: list[tempfile.TemporaryDirectory[str]] = []  # kept for the life of the process


def lay_out_packages(root: Path, folder: Path) -> None:
    """Link the sources under ``root`` into ``folder`` as the installed packages are arranged."""
    settings = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    package_dir: dict[str, str] = settings["tool"]["setuptools"]["package-dir"]
    # Parents before their subpackages, so a subpackage's link goes inside its parent's folder.
    for package, source in sorted(package_dir.items(), key=lambda item: item[0].count(".")):
        target = folder.joinpath(*package.split("."))
        source_dir = root / source
        if target.parent != folder:
            target.parent.mkdir(parents=True, exist_ok=True)
        if package.count(".") == 0:
            target.mkdir()
            for child in source_dir.iterdir():
                (target / child.name).symlink_to(child, target_is_directory=child.is_dir())
        else:
            if target.exists() or target.is_symlink():
                raise PluginError(f"package-dir maps {package} to {source}, but {target.name} is already a "
                                  "module or folder of its parent package")
            target.symlink_to(source_dir, target_is_directory=True)


@event_priority(100)  # before mkdocstrings' own on_config, which creates the handler with its paths
def on_config(config: Any) -> Any:
    """Point mkdocstrings' Python handler at a layout of the installed packages."""
    root = Path(config["config_file_path"]).resolve().parent
    layout = tempfile.TemporaryDirectory(prefix="archgym-docs-packages-")
    _layouts.append(layout)
    lay_out_packages(root, Path(layout.name))
    handlers = config["plugins"]["mkdocstrings"].config.handlers
    handlers.setdefault("python", {})["paths"] = [layout.name]
    return config
