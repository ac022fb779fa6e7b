"""Small C libraries compiled on first use and loaded with ctypes.

Hot loops that Python cannot make fast enough ship as C sources next to the
module that uses them. :func:`load_library` builds one with the system C
compiler (``$CC``, else ``cc``) into the on-disk cache (:mod:`archgym.cache`;
a private per-user temporary folder when the cache is off), keyed by the
source's hash, so later processes only load it (about a millisecond). Where no
compiler works it returns None and the caller uses its Python (or numba)
version, saying so once; ``ARCHGYM_NATIVE=off`` forces that.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from archgym.cache import cache_dir

__all__ = ["NATIVE_VARIABLE", "load_library", "native_disabled"]

NATIVE_VARIABLE = "ARCHGYM_NATIVE"
"""Environment variable that turns the compiled libraries off (``off``)."""

_FLAGS = ("-O2", "-shared", "-fPIC", "-ffp-contract=off", "-std=c99")
"""No floating-point contraction: results must equal the Python versions' bit for bit."""
_COMPILE_TIMEOUT_S = 120

_log = logging.getLogger(__name__)


def native_disabled() -> bool:
    """Whether ``ARCHGYM_NATIVE`` turns the compiled libraries off."""
    return os.environ.get(NATIVE_VARIABLE, "").strip().lower() in ("off", "0", "false", "no")


def _folder(fallback: str) -> Path | None:
    """Where libraries are kept: the cache folder, or with the cache off a private per-user
    temporary folder (so processes still build each once)."""
    base = cache_dir()
    if base is not None:
        return base / "native"
    folder = Path(tempfile.gettempdir()) / f"archgym-native-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
            _log.warning("%s belongs to another user: %s", folder, fallback)
            return None
    except OSError as exc:
        _log.warning("cannot create %s (%s): %s", folder, exc, fallback)
        return None
    return folder


def _build(source: Path, fallback: str) -> Path | None:
    compiler = os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        _log.warning("no C compiler (%s) found to build %s: %s", compiler, source.name, fallback)
        return None
    text = source.read_bytes()
    key = hashlib.sha256(text + repr((compiler, _FLAGS, sys.platform)).encode()).hexdigest()[:16]
    folder = _folder(fallback)
    if folder is None:
        return None
    target = folder / f"{source.stem}-{key}.so"
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, suffix=".so")
        os.close(handle)
        completed = subprocess.run(
            [compiler, *_FLAGS, "-o", partial, str(source)],
            check=False,
            capture_output=True,
            text=True,
            timeout=_COMPILE_TIMEOUT_S,
        )
        if completed.returncode != 0:
            Path(partial).unlink(missing_ok=True)
            _log.warning("compiling %s failed: %s\n%s", source.name, fallback, completed.stderr)
            return None
        os.replace(partial, target)  # atomic: processes building at once each install a whole file
    except (OSError, subprocess.TimeoutExpired) as exc:
        _log.warning("compiling %s failed (%s): %s", source.name, exc, fallback)
        return None
    return target


def load_library(source: Path, fallback: str) -> ctypes.CDLL | None:
    """The library built from ``source``, or None where it is turned off or cannot be built or loaded.

    Args:
        source: The C file.
        fallback: What the caller does instead, for the warning (e.g. "the
            DRAM model uses its numba code instead").
    """
    if native_disabled():
        return None
    path = _build(source, fallback)
    if path is None:
        return None
    try:
        return ctypes.CDLL(str(path))
    except OSError as exc:
        _log.warning("cannot load %s (%s): %s", path, exc, fallback)
        return None
