"""Typed errors raised by ArchGym.

Every error a user can trigger with bad input derives from :class:`ArchGymError`
and names what was wrong and what is allowed. Infeasible or failed designs are
not errors: they are :class:`archgym.cost_model.Evaluation` values.
"""

from __future__ import annotations


class ArchGymError(Exception):
    """Base class of every error ArchGym raises on bad input or configuration."""


class InvalidDesignError(ArchGymError, ValueError):
    """A design has an unknown or missing knob, or a value outside its domain."""


class UnknownNameError(ArchGymError, KeyError):
    """A name (backend, agent, workload, objective, memspec) is not registered.

    ``KeyError`` quotes its message when printed; this class prints it plainly.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class WorkloadError(ArchGymError, ValueError):
    """A workload or trace file is missing, malformed or unsupported."""


class DatasetError(ArchGymError, ValueError):
    """A dataset directory or file is missing, corrupt or inconsistent."""


class BackendUnavailableError(ArchGymError, RuntimeError):
    """A backend exists but cannot run here (for example a missing binary)."""


class ConfigurationError(ArchGymError, ValueError):
    """An option (objective, agent setting, CLI argument) is invalid."""


class ProxyError(ArchGymError, ValueError):
    """A saved proxy cost model is missing, corrupt, or does not match the design space."""


class PluginError(ConfigurationError):
    """A plug-in (a module or ``.py`` file given to ``--plugin``, or an entry point) cannot be loaded."""
