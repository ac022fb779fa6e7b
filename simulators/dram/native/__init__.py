"""The analytical DRAM model's hot loops in C, compiled on first use and loaded with ctypes.

``dram_native.c`` holds the STL parser and the request-level controller model
(a port of :func:`archgym.simulators.dram.controller._simulate_one`). Loading
it takes about a millisecond, against a quarter of a second for numba to load
its compiled code in a new process, which is what makes the first evaluation
of a long trace fast. It is built by :func:`archgym.native_build.load_library`;
where no compiler works, :func:`library` returns None and callers use the
numba (or NumPy) versions, which give the same results; ``ARCHGYM_NATIVE=off``
forces that.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

from archgym.native_build import NATIVE_VARIABLE, load_library

__all__ = ["NATIVE_VARIABLE", "library"]

_SOURCE = Path(__file__).with_name("dram_native.c")


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled library with its functions' signatures set, or None where it cannot be built."""
    lib = load_library(_SOURCE, "the DRAM model uses its numba code instead")
    if lib is None:
        return None
    pointer, integer = ctypes.c_void_p, ctypes.c_int64
    lib.parse_stl.argtypes = [pointer, integer, integer, pointer, pointer, pointer, integer, pointer]
    lib.parse_stl.restype = integer
    lib.simulate_one.argtypes = [pointer] * 4 + [integer] * 3 + [pointer] * 3 + [integer, pointer]
    lib.simulate_one.restype = ctypes.c_int
    return lib
