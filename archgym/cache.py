"""An on-disk cache of prepared workloads, shared by processes and runs.

Preparing a workload can take seconds (a cost model's table of every
configuration on a trace), and a sweep prepares the same workload in every
worker process. Entries are NumPy arrays stored under a key that the caller
derives from everything the result depends on: the workload's content hash,
the model's settings and the model's version (:func:`source_version` hashes
the model's own source files, so a changed model never reads an old entry).
Writes are atomic (a temporary file renamed into place), so processes may
share the folder; an unreadable entry is treated as missing and rewritten.

The folder is ``$ARCHGYM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/archgym``
(``~/.cache/archgym``). ``ARCHGYM_CACHE_DIR=off`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import numpy as np

__all__ = ["CACHE_VARIABLE", "cache_dir", "load_arrays", "source_version", "store_arrays"]

CACHE_VARIABLE = "ARCHGYM_CACHE_DIR"
"""Environment variable naming the cache folder (``off`` disables the cache)."""

_log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """The cache folder, or None if the cache is off."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "none") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archgym"


def source_version(modules: Iterable[ModuleType]) -> str:
    """A hash of the source files of ``modules``: changes whenever the code that computes an entry changes."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


def _path(namespace: str, key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / namespace / f"{key}.npz"


def load_arrays(namespace: str, key: str) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``namespace/key``, or None if absent, unreadable or the cache is off."""
    path = _path(namespace, key)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError) as error:
        _log.warning("ignoring unreadable cache entry %s (%s); it will be rewritten", path, error)
        return None


def store_arrays(namespace: str, key: str, arrays: Mapping[str, np.ndarray]) -> Path | None:
    """Store ``arrays`` under ``namespace/key`` atomically; returns the file, or None if the cache is off or
    the folder cannot be written (the cache is an optimisation: failing to write it is not an error)."""
    path = _path(namespace, key)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{key}.", suffix=".npz", dir=path.parent)
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)  # type: ignore[arg-type]  # the stub types **kwds like allow_pickle
        os.replace(temporary, path)
    except OSError as error:
        _log.warning("could not write cache entry %s (%s)", path, error)
        return None
    return path
