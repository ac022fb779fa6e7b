"""The analytical DRAM model's hot loops in C, compiled on first use and loaded with ctypes.

``dram_native.c`` holds the STL parser and the request-level controller model
(a port of :func:`archgym.simulators.dram.controller._simulate_one`). Loading
it takes about a millisecond, against a quarter of a second for numba to load
its compiled code in a new process, which is what makes the first evaluation
of a long trace fast. The library is built with the system C compiler
(``$CC``, else ``cc``) into the on-disk cache (:mod:`archgym.cache`; a private
per-user temporary folder when the cache is off), keyed by the source's hash, and
reused by later processes. Where no compiler works, :func:`library` returns
None and callers use the numba (or NumPy) versions, which give the same
results; ``ARCHGYM_NATIVE=off`` forces that.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from archgym.cache import cache_dir

__all__ = ["NATIVE_VARIABLE", "library"]

NATIVE_VARIABLE = "ARCHGYM_NATIVE"
"""Environment variable that turns the compiled library off (``off``)."""

_SOURCE = Path(__file__).with_name("dram_native.c")
_FLAGS = ("-O2", "-shared", "-fPIC", "-ffp-contract=off", "-std=c99")
"""No floating-point contraction: results must equal the numba version's bit for bit."""
_COMPILE_TIMEOUT_S = 120

_log = logging.getLogger(__name__)


def _folder() -> Path | None:
    """Where the library is kept: the cache folder, or with the cache off a private per-user
    temporary folder (so processes still build it once)."""
    base = cache_dir()
    if base is not None:
        return base / "native"
    folder = Path(tempfile.gettempdir()) / f"archgym-native-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
            _log.warning("%s belongs to another user: the DRAM model uses its numba code instead", folder)
            return None
    except OSError as exc:
        _log.warning("cannot create %s (%s): the DRAM model uses its numba code instead", folder, exc)
        return None
    return folder


def _build(source: bytes) -> Path | None:
    compiler = os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        _log.warning("no C compiler (%s) found: the DRAM model uses its numba code, slower to start", compiler)
        return None
    key = hashlib.sha256(source + repr((compiler, _FLAGS, sys.platform)).encode()).hexdigest()[:16]
    folder = _folder()
    if folder is None:
        return None
    target = folder / f"dram_native-{key}.so"
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, suffix=".so")
        os.close(handle)
        completed = subprocess.run(
            [compiler, *_FLAGS, "-o", partial, str(_SOURCE)],
            check=False,
            capture_output=True,
            text=True,
            timeout=_COMPILE_TIMEOUT_S,
        )
        if completed.returncode != 0:
            Path(partial).unlink(missing_ok=True)
            _log.warning("compiling %s failed, using the numba code instead:\n%s", _SOURCE.name, completed.stderr)
            return None
        os.replace(partial, target)  # atomic: processes building at once each install a whole file
    except (OSError, subprocess.TimeoutExpired) as exc:
        _log.warning("compiling %s failed (%s), using the numba code instead", _SOURCE.name, exc)
        return None
    return target


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled library with its functions' signatures set, or None where it cannot be built."""
    if os.environ.get(NATIVE_VARIABLE, "").strip().lower() in ("off", "0", "false", "no"):
        return None
    path = _build(_SOURCE.read_bytes())
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        _log.warning("cannot load %s (%s), using the numba code instead", path, exc)
        return None
    pointer, integer = ctypes.c_void_p, ctypes.c_int64
    lib.parse_stl.argtypes = [pointer, integer, integer, pointer, pointer, pointer, integer, pointer]
    lib.parse_stl.restype = integer
    lib.simulate_one.argtypes = [pointer] * 4 + [integer] * 3 + [pointer] * 3 + [integer, pointer]
    lib.simulate_one.restype = ctypes.c_int
    return lib
