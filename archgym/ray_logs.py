"""Keep Ray's start-up and training chatter out of ArchGym's output.

Ray and RLlib log warnings meant for their own developers (the new API stack,
deprecated constructor arguments, token authentication, GPU monitoring) to the
console of whoever starts them. ArchGym starts Ray for its users, so
:func:`quiet_ray` holds those loggers at ERROR and ignores the warnings Ray's
own modules raise, for the duration of a ``with`` block only: the levels and
warning filters are restored when it ends, so a program that uses Ray itself
keeps its settings. Errors still show. Worker processes are quietened by
starting Ray with ``log_to_driver=False``, which keeps their output in Ray's
session logs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RAY_LOGGERS", "quiet_ray"]

RAY_LOGGERS = ("ray", "ray.rllib", "ray.tune", "ray.train", "ray.data")
"""Loggers held at ERROR; Ray sets levels on some children, so they are set one by one."""

_RAY_MODULES = r"(ray|gymnasium|pettingzoo)(\.|$)"
"""Modules whose warnings are ignored: Ray's, and those of the env APIs RLlib drives the way it chooses."""


@contextmanager
def quiet_ray(level: int = logging.ERROR) -> Iterator[None]:
    """Hold Ray's loggers at ``level`` and ignore warnings from Ray's modules within the block.

    Args:
        level: The level Ray's loggers are held at (ERROR: errors still show).
    """
    loggers = [logging.getLogger(name) for name in RAY_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=_RAY_MODULES)
        for logger in loggers:
            logger.setLevel(max(level, logger.getEffectiveLevel()))
        try:
            yield
        finally:
            for logger, previous in zip(loggers, levels):
                logger.setLevel(previous)
