"""Cost models, one package per design problem (installed as ``archgym.simulators``)."""
