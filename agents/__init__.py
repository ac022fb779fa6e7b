"""Search agents (installed as ``archgym.agents``)."""
