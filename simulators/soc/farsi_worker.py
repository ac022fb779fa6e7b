"""Runs FARSI on a batch of SoC designs, in a process of its own.

The ``soc/farsi`` backend copies this file into a private folder that
mirrors a FARSI checkout (symbolic links to its packages, a private
``cacti_for_FARSI`` folder, a generated ``home_settings.py``) and runs it
there with the user's Python::

    python -B <folder>/Project_FARSI/archgym_farsi_worker.py JOB RESULTS

``JOB`` is a JSON file: the FARSI workload, the kernel class of each FARSI
task, the designs (each already translated into FARSI blocks by the
backend: cores, IPs per task, bus, memories, buffer placement), the seconds
one design may take and the memory limit. The worker writes one JSON line
per design to ``RESULTS``: ``{"index": i, "started": true}`` before it
starts a design, then ``{"index": i, "metrics": {...}}`` or
``{"index": i, "reason": "..."}``. A design that ends the process (a
crash, the memory limit, an ``os._exit``) is the one started last without a
result; the backend marks it infeasible and starts a new worker on the rest.

The worker needs only the standard library and FARSI's own requirements
(numpy, pandas, sympy, dill, psutil, networkx, matplotlib): it never
imports ArchGym, since the FARSI Python may be another interpreter.
Compatibility fixes for FARSI on current libraries are made here, in this
process only: stub modules for ``pygraphviz`` and ``plotly`` (drawing only),
``numpy.Inf`` and ``pandas.DataFrame.append`` (both removed upstream), the
checkout's paths for ``home_settings`` and ``config.database_data_dir``,
CACTI's working directory restored after each call (FARSI ``chdir``\\ s
into it), and FARSI's class-level list of block numbers emptied before each
design (it only grows, and every new block searches it).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
import types
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

STUBBED_MODULES = ("pygraphviz", "plotly")
"""Packages FARSI imports for drawing only; they are replaced by inert modules."""
_TAIL_LINES = 4


class _Stub(types.ModuleType):
    """A module whose every attribute is another stub and which can be called."""

    __path__: ClassVar[list[str]] = []  # a package, so submodules import

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports every module of :data:`STUBBED_MODULES` as a :class:`_Stub`."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in STUBBED_MODULES:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _Stub(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the stub answers every attribute."""


class _Timeout(Exception):
    """A design ran past its time."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _apply_fixes() -> None:
    """Make FARSI importable on current numpy and pandas, in this process only."""
    import numpy as np
    import pandas as pd

    sys.meta_path.insert(0, _StubFinder())
    if not hasattr(np, "Inf"):
        np.Inf = np.inf  # type: ignore[attr-defined]
    if not hasattr(pd.DataFrame, "append"):
        def append(self: pd.DataFrame, other: Any, ignore_index: bool = False, **_: Any) -> pd.DataFrame:
            if isinstance(other, dict):
                other = pd.DataFrame([other])
            return pd.concat([self, other], ignore_index=ignore_index)

        pd.DataFrame.append = append  # type: ignore[attr-defined]


class Farsi:
    """FARSI set up on one workload; builds and simulates designs."""

    def __init__(self, folder: str, workloads: Sequence[str]) -> None:
        self.folder = folder
        self.workloads = set(workloads)
        from settings import config  # FARSI's; importing top.main_FARSI first avoids its import cycle

        self.config = config
        config.database_data_dir = os.path.join(folder, "specs", "database_data")
        self.handlers: dict[float, Any] = {}

    def handler(self, core_ratio: float) -> Any:
        """FARSI's DSE handler with the A53 work rate scaled by ``core_ratio`` (one per ratio, kept)."""
        if core_ratio in self.handlers:
            return self.handlers[core_ratio]
        from specs.database_input import database_input_class
        from top.main_FARSI import set_up_FARSI_with_arch_gym

        config = self.config
        freq_range = [1, 2, 4, 8]
        config.transformation_selection_mode = "random"
        config.SA_depth = 1
        config.heuristic_type = "simple_greedy_one_sample"
        misc = {
            "ip_freq_correction_ratio": 1, "gpp_freq_correction_ratio": core_ratio,
            "ip_spawn": {"ip_loop_unrolling": {"incr": 2, "max_spawn_ip": 17, "spawn_mode": "geometric"},
                         "ip_freq_range": freq_range},
            "mem_spawn": {"mem_freq_range": freq_range}, "ic_spawn": {"ic_freq_range": freq_range},
            "tech_node_SF": {"perf": 1, "energy": {"non_gpp": .064, "gpp": 1},
                             "area": {"non_mem": .0374, "mem": .07, "gpp": 1}},
            "base_budget_scaling": {"latency": 1, "power": 1, "area": 1},
            "queue_available_size": [1, 2, 4, 8, 16], "burst_size_options": [1024],
            "task_spawn": {"parallel_task_cnt": 2, "serial_task_cnt": 3},
        }
        population = {"db_mode": "parse", "hw_graph_mode": "generated_from_scratch",
                      "workloads": set(self.workloads), "misc_knobs": misc}
        accuracy = {"latency": 1, "energy": 1, "area": 1, "one_over_area": 1}
        sampling = {"mode": "exact", "population_size": 1, "reduction": "most_likely",
                    "accuracy_percentage": {kind: accuracy for kind in ("sram", "dram", "ic", "gpp", "ip")}}
        handler = set_up_FARSI_with_arch_gym("", "1", "simple_run", database_input_class(population), sampling,
                                             "generated_from_scratch")
        self.handlers[core_ratio] = handler
        return handler

    def simulate(self, spec: dict[str, Any]) -> dict[str, Any]:
        """FARSI's metrics (SI units) of one translated design."""
        from design_utils.components.hardware import Block, HardwareGraph
        from design_utils.design import ExDesignPoint

        Block.block_numbers_seen.clear()  # ids only grow, so forgetting the old ones is safe
        handler = self.handler(float(spec["core_ratio"]))
        db = handler.database
        soc = min(db.SOCsL, key=lambda s: s.get_budget("latency"))

        def block(name: str, copy_soc: bool = False) -> Any:
            reference = db.get_block_by_name(name)
            if reference is None:
                raise LookupError(f"FARSI's block library for this workload has no block {name}")
            made = db.sample_similar_block(reference)
            if copy_soc:
                made = db.copy_SOC(made, reference)
            made.set_SOC(soc.type, db.SOC_id)
            return made

        pes = {name: block(kind) for name, kind in spec["pes"].items()}
        bus = block(spec["bus"])
        memories = {name: block(kind, copy_soc=True) for name, kind in spec["memories"].items()}
        for pe in pes.values():
            pe.connect(bus)
        for memory in memories.values():
            bus.connect(memory)
        tasks = {task.name: task for task in db.get_tasks()}
        for task_name, pe_name in spec["task_pe"].items():
            pes[pe_name].load_improved(tasks[task_name], tasks[task_name])
        for producer, consumer, memory in spec["buffers"]:
            memories[memory].load_improved(tasks[producer], tasks[consumer])
        first = pes[spec["first_pe"]]
        design = ExDesignPoint(HardwareGraph(first))
        handler.dse.dh.load_tasks_to_read_mem_and_ic(design)
        design.hardware_graph.update_graph()
        design.hardware_graph.pipe_design()
        home = os.getcwd()
        try:
            simulated = handler.dse.eval_design(design, db)
        finally:
            os.chdir(home)  # FARSI's CACTI handler moves into the CACTI folder
        stats = simulated.dp_stats
        latency = stats.get_system_complex_metric("latency")
        return {
            "latency_s": {str(k): float(v) for k, v in latency.items()},
            "power_w": float(stats.get_system_complex_metric("power")),
            "area_m2": float(stats.get_system_complex_metric("area")),
            "energy_j": float(stats.get_system_complex_metric("energy")),
        }


def buffer_sizes(farsi: Farsi) -> dict[str, Any]:
    """Every FARSI task's work on an A53, the bytes of each of its output buffers and its IPs (for the translation)."""
    db = farsi.handler(1.0).database
    blocks = {block.instance_name_without_id for block in db.get_blocks()}
    out: dict[str, Any] = {}
    for task in db.get_tasks():
        prefix = f"{task.name}_IP0_"
        out[task.name] = {
            "work": float(task.get_self_task_work()),
            "children": {child.name: float(task.get_self_to_family_task_work(child)) for child in task.get_children()},
            # (loop unrolling, clock multiple) of every IP FARSI has for the task
            "ips": sorted({tuple(int(part) for part in name[len(prefix):-len("_pe")].split("_"))
                           for name in blocks if name.startswith(prefix) and name.endswith("_pe")}),
        }
    return out


@contextlib.contextmanager
def _limited(seconds: float) -> Iterator[None]:
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-_TAIL_LINES:])[-400:]


def _run_one(farsi: Farsi, spec: dict[str, Any], timeout_s: float, memory_mb: int) -> dict[str, Any]:
    """The result line of one design: its metrics or FARSI's reason for failing."""
    printed = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(printed), _limited(timeout_s):
            metrics = farsi.simulate(spec)
    except _Timeout:
        return {"reason": f"FARSI timed out after {timeout_s:g} s on this design"}
    except MemoryError:
        return {"reason": f"FARSI exceeded the memory limit of {memory_mb} MiB"}
    except SystemExit as stop:  # FARSI calls exit() where it finds a design it cannot handle
        said = _tail(printed.getvalue()) or "(no message)"
        return {"reason": f"FARSI stopped (exit({stop.code})): {said}"}
    except Exception as error:  # noqa: BLE001  (any FARSI failure is a fact about the design)
        where = traceback.extract_tb(error.__traceback__)[-1]
        return {"reason": f"FARSI raised {type(error).__name__}: {error} "
                          f"(at {os.path.basename(where.filename)}:{where.lineno})"}
    return {"metrics": metrics, "seconds": time.perf_counter() - start}


def main(argv: Sequence[str]) -> int:
    """Run the job ``argv[0]`` and write its results to ``argv[1]``; the exit status."""
    job_path, results_path = argv
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    memory_mb = int(job["memory_mb"])
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    folder = os.path.dirname(os.path.abspath(__file__))
    _apply_fixes()
    with contextlib.redirect_stdout(io.StringIO()):
        import top.main_FARSI  # noqa: F401  (first: FARSI's modules import each other in this order)

        farsi = Farsi(folder, job["workloads"])
        if job.get("describe"):
            with open(results_path, "w", encoding="utf-8") as out:
                json.dump(buffer_sizes(farsi), out)
            return 0
    with open(results_path, "a", encoding="utf-8") as out:
        for item in job["designs"]:
            index = item["index"]
            out.write(json.dumps({"index": index, "started": True}) + "\n")
            out.flush()
            result = _run_one(farsi, item["spec"], float(job["timeout_s"]), memory_mb)
            out.write(json.dumps({"index": index, **result}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # FARSI may leave CACTI children or threads behind
