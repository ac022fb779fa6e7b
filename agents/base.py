"""The agent protocol and registry, re-exported from :mod:`archgym.agent` where they live.

Kept so that plug-ins written as ``from archgym.agents.base import Agent, register_agent`` still work.
"""

from archgym.agent import (
    Agent,
    Trainer,
    TrainingResult,
    Trial,
    agent_class,
    best_trial,
    list_agents,
    make_agent,
    parse_agent_config,
    register_agent,
)

__all__ = [
    "Agent",
    "Trainer",
    "TrainingResult",
    "Trial",
    "agent_class",
    "best_trial",
    "list_agents",
    "make_agent",
    "parse_agent_config",
    "register_agent",
]
