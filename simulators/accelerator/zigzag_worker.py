"""Runs ZigZag on the layers of one evaluation, in a process of its own.

The ``accelerator/zigzag`` backend starts this module for every evaluation,
in the evaluation's private directory::

    python -m archgym.simulators.accelerator.zigzag_worker FOLDER LAYERS LPF_LIMIT OBJECTIVE ENGINE SEED

It reads ``accelerator.yaml`` and ``layer<i>.yaml`` / ``mapping<i>.yaml`` for
``i < LAYERS`` from ``FOLDER``, runs ZigZag on each layer and writes the
per-layer results to ``FOLDER/result.json``. On failure it prints the
traceback and a line ``ZigZag failed on layer <i>[: <finding>]`` on standard
error and exits with status 1; a finding (no mapping exists) is a fact about
the design, not a crash, and its message is the whole reason.

This module imports ZigZag only when run, so the backend can read its
constants without paying for that import.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import traceback
from collections.abc import Sequence
from typing import Any

RESULT_FILE = "result.json"
"""Where the worker writes the per-layer results, inside the evaluation's directory."""
FAILED_MARK = "ZigZag failed on layer"
"""Starts the line on standard error that names the failing layer's index (and a finding, after a colon)."""
_OVERFLOW_COST = 1e300
"""SALSA's cost of a loop order that overflows a memory: finite, so two such orders compare as equal."""


class _NoMapping(Exception):
    """ZigZag's search found no mapping of a layer on the design."""


class _Failed(Exception):
    """ZigZag raised on a layer (the cause is chained)."""


def run_layers(folder: str, n_layers: int, lpf_limit: int, mapper_objective: str, search_engine: str,
               seed: int) -> list[dict[str, float]]:
    """ZigZag's latency, energy, ideal compute cycles and MACs of every layer in ``folder``."""
    from zigzag.api import get_hardware_performance_zigzag

    if search_engine == "salsa":
        _prepare_salsa(seed)
    results: list[dict[str, float]] = []
    logging.getLogger().setLevel(logging.WARNING)
    for i in range(n_layers):
        try:
            energy, latency, cmes = get_hardware_performance_zigzag(
                os.path.join(folder, f"layer{i}.yaml"),
                os.path.join(folder, "accelerator.yaml"),
                os.path.join(folder, f"mapping{i}.yaml"),
                opt=mapper_objective,
                dump_folder=os.path.join(folder, f"layer{i}"),
                lpf_limit=lpf_limit,
                loma_show_progress_bar=False,
                temporal_mapping_search_engine=search_engine,
            )
        except AssertionError as error:  # SALSA's stage asserts that its annealing found a mapping
            if traceback.extract_tb(error.__traceback__)[-1].filename.endswith("salsa.py"):
                raise _NoMapping(i, "SALSA found no valid mapping: every loop order it tried overflows a "
                                 "memory, or the spatial mapping does not fit the array") from None
            raise _Failed(i) from error
        except Exception as error:
            raise _Failed(i) from error
        cme = cmes[0][1][0][0]
        results.append({
            "latency_cycles": float(latency),
            "energy_pj": float(energy),
            "compute_cycles": float(cme.ideal_temporal_cycle),
            "macs": float(cme.layer.total_mac_count),
        })
        logging.getLogger().setLevel(logging.WARNING)  # ZigZag's API re-enables INFO logging on each call
    return results


def _prepare_salsa(seed: int) -> None:
    """Seed SALSA and let it walk through loop orders that overflow a memory.

    SALSA anneals in a process of its own, forked per layer, where Python
    reseeds ``random`` from the OS; its annealing is seeded at its start instead,
    and that process is tied to the worker's life (killed with it, on Linux).
    ZigZag 3.9's SALSA builds a state for every loop order it visits and lets a
    memory overflow escape from its worker process, after which its stage
    waits forever for a result. Here such a state gets one huge, finite cost
    instead: the annealing accepts moves between overflowing orders (equal
    cost) and into fitting ones, and out of a fitting one only with
    probability ``exp(-1 / temperature)`` (below 1e-8 at SALSA's starting
    temperature of 0.05), so from a random start it walks until an order fits
    and then anneals as usual. A run that
    never finds a fitting order reports no mapping rather than hanging.
    """
    import numpy as np
    from zigzag.opt.loma.memory_allocator import MemoryTooSmallException
    from zigzag.opt.salsa.engine import SalsaEngine
    from zigzag.opt.salsa.state import SalsaState

    from archgym.external import die_with_parent

    anneal = SalsaEngine.run_simulated_annealing_opt
    worker = os.getpid()

    def seeded_anneal(self: Any, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != worker and os.getppid() == worker:  # forked by the worker: end with it, not alone
            die_with_parent(worker)
        random.seed(seed)  # the start order is shuffled with random, the moves drawn with numpy
        np.random.seed(seed)
        return anneal(self, *args, **kwargs)

    build = SalsaState.__init__

    def tolerant_build(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            build(self, *args, **kwargs)
        except MemoryTooSmallException:  # the order and hardware are already set, so swap() still works
            self.cme = None
            self.opt_criterion = _OVERFLOW_COST

    SalsaEngine.run_simulated_annealing_opt = seeded_anneal
    SalsaState.__init__ = tolerant_build


def main(argv: Sequence[str]) -> int:
    """Run the evaluation described by ``argv`` (see the module docstring); the exit status."""
    folder, n_layers, lpf_limit, mapper_objective, search_engine, seed = argv
    try:
        results = run_layers(folder, int(n_layers), int(lpf_limit), mapper_objective, search_engine, int(seed))
    except _NoMapping as error:
        layer, message = error.args
        print(f"{FAILED_MARK} {layer}: {message}", file=sys.stderr)
        return 1
    except _Failed as error:
        traceback.print_exception(error.__cause__, file=sys.stderr)
        print(f"{FAILED_MARK} {error.args[0]}", file=sys.stderr)
        return 1
    with open(os.path.join(folder, RESULT_FILE), "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit at once: waiting at interpreter exit for a process SALSA left behind would end in a timeout.
    os._exit(status)
