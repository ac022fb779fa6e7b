"""ArchGym: gymnasium environments and search agents for hardware design-space exploration."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("archgym")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

# Registers the gymnasium environment ids (archgym/DRAM-v0, ...).
import archgym.envs  # noqa: F401
