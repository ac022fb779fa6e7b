"""Bundled SoC workloads, modelled on the AR/VR pipelines FARSI studies, and workload lookup.

FARSI (Boroujerdian et al., "FARSI: An Early-stage Design Space Exploration
Framework to Tame the Domain-specific System-on-chip Complexity", ACM
Transactions on Embedded Computing Systems; ``facebookresearch/Project_FARSI``) explores SoCs for three AR/VR
applications under budgets. The bundled workloads follow them:

* ``audio-decoder``: FARSI's 3-D audio decoder; graph, work and bytes are
  FARSI's own tables (``taskgraphs/audio-decoder.yaml`` documents which).
* ``edge-detection``: FARSI's edge-detection graph (Gaussian smoothing, then
  a Laplacian and zero crossings in one branch and a gradient and its
  maximum in the other, joined by zero-crossing rejection), with FARSI's
  A53 profile (``edge_detection_database - Task PE Performance.csv``: e.g.
  1.6e9 cycles, 3.2e9 instructions, for the Gaussian smoothing) and buffers (``- Task Data
  Movement.csv``: 8-byte input pixels, 4-byte intermediates) for its
  1280 x 1280 frame, scaled per pixel for other frames. Parameters
  ``width`` and ``height`` (default 1280 x 1280).
* ``camera-pipeline``: the HPVM CAVA camera vision pipeline that FARSI calls
  ``hpvm_cava`` (scale, demosaic, denoise, colour transform, gamut map, tone
  map, descale), with FARSI's A53 profile (``hpvm_cava_database - Task PE
  Performance.csv``: 8.1e10 cycles for the gamut map) and buffers
  (3-byte input and output pixels, 12-byte intermediates) for its frame of
  151 rows of 201 pixels, scaled per pixel. The frame can be cut into
  ``tiles`` strips processed in parallel. Parameters ``width``, ``height``
  (default 201 x 151) and ``tiles`` (default 1, FARSI's single chain).
* ``ar-vr``: all three running together, as in FARSI's main experiments.

FARSI's tables give A53 cycles at 1 GHz, and FARSI's work is those cycles
times the A53's IPC of 2, so our instruction counts are twice the tables'.
Every accelerated task carries the speedup of FARSI's IP for it (its
``IP0`` cycles at 800 MHz against the A53 at 1 GHz), since FARSI's IPs for
tasks of one kernel class differ by up to 50x.

Every bundled workload carries FARSI's budgets (``misc_database -
Budget.csv``): latency 21 ms for the audio decoder and 34 ms for edge
detection and the camera pipeline, power 8.737 mW and area 17.475 mm². The
workload repeats every latency budget (the longest, for ``ar-vr``). With
FARSI's profiles, edge detection needs at least 0.29 s and the camera
pipeline 1.1 s in this design space (FARSI's runs agree), so only the audio
decoder can meet its budgets (about 1 % of random designs do);
``budget_distance`` still ranks designs.

A workload is named by a bundled name, a bundled name with parameters
(``"edge-detection:width=1280,height=720"``), or a YAML / CSV task-graph
file (:mod:`archgym.simulators.soc.loader`).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from archgym.errors import UnknownNameError, WorkloadError
from archgym.simulators.soc.loader import load_workload_file
from archgym.simulators.soc.taskgraph import Application, Edge, Task, Workload, combine

FARSI_POWER_BUDGET_MW = 8.737
"""FARSI's power budget for its AR/VR workloads."""
FARSI_AREA_BUDGET_MM2 = 17.475
"""FARSI's area budget (1.7475e-5 m²)."""

_FARSI_IP_CLOCK_OVER_A53 = 800e6 / 1000e6
"""FARSI's IP clock (800 MHz, as soc/farsi builds them) over the A53's (1 GHz)."""
_FARSI_A53_IPC = 2.0
"""FARSI's tables give A53 cycles at 1 GHz; its work is cycles times the A53's Dhrystone IPC
(``misc_database - Block Characteristics.csv``; ``parse_library.gen_task_graph_work_dict``)."""

# FARSI's edge_detection tables ("edge_detection_database - Task PE Performance.csv"): the A53 cycles and the
# IP0 cycles of each task for its 1280 x 1280 frame (1,638,400 iterations in "- Task Itr Count.csv").
_EDGE_FARSI_PIXELS = 1280 * 1280
_EDGE_FARSI_PROFILE = {
    # name: (kernel, A53 cycles per frame, IP cycles per frame)
    "gaussianSmoothing": ("filter", 1617100800, 331284480),
    "laplacianEstimate": ("filter", 421068800, 198574080),
    "computeZeroCrossings": ("elementwise", 437452800, 198574080),
    "computeGradient": ("filter", 427622400, 189071360),
    "computeMaxGradient": ("control", 14749184, 3301888),
    "rejectZeroCrossings": ("elementwise", 376832000, 177602560),
}

# FARSI's hpvm_cava tables ("hpvm_cava_database - Task PE Performance.csv") for its frame of 151 rows of
# 201 pixels (151 iterations; 91,053 bytes of 3-byte pixels in "- Task Data Movement.csv").
_CAMERA_FARSI_PIXELS = 201 * 151
_CAMERA_STAGES = (
    # (name, kernel, A53 cycles per frame, IP cycles per frame, bytes per pixel of its output buffer)
    ("scale", "elementwise", 23110550, 1390257, 12.0),
    ("demosaic", "filter", 16764020, 1585500, 12.0),
    ("denoise", "filter", 348287144, 9876910, 12.0),
    ("transform", "matrix", 47395880, 2606562, 12.0),
    ("gamut", "matrix", 81304050420, 3387311728, 12.0),
    ("tonemap", "elementwise", 20683980, 2606562, 12.0),
    ("descale", "elementwise", 3122039760, 186117617, 3.0),
)
_CAMERA_RAW_BYTES_PER_PIXEL = 3.0


def _speedup(a53_cycles: float, ip_cycles: float) -> float:
    """One lane of FARSI's IP for a task against one A53 at 1 GHz: its A53 time over its IP time."""
    return a53_cycles / ip_cycles * _FARSI_IP_CLOCK_OVER_A53


def edge_detection(width: int = 1280, height: int = 1280) -> Workload:
    """FARSI's edge-detection graph on a ``width`` x ``height`` frame (one task loop per row)."""
    _check_dimensions(width=width, height=height)
    pixels = width * height
    tasks = (
        Task("source"),
        *(
            Task(name, work=_FARSI_A53_IPC * a53 / _EDGE_FARSI_PIXELS * width, loops=height, kernel=kernel,
                 speedup=_speedup(a53, ip) if kernel != "control" else None)
            for name, (kernel, a53, ip) in _EDGE_FARSI_PROFILE.items()
        ),
        Task("sink"),
    )
    # FARSI's buffers: an 8-byte input pixel, 4-byte intermediates, and the 4-byte maximum gradient.
    edges = (
        Edge("source", "gaussianSmoothing", 8.0 * pixels),
        Edge("gaussianSmoothing", "laplacianEstimate", 4.0 * pixels),
        Edge("gaussianSmoothing", "computeGradient", 4.0 * pixels),
        Edge("laplacianEstimate", "computeZeroCrossings", 4.0 * pixels),
        Edge("computeZeroCrossings", "rejectZeroCrossings", 4.0 * pixels),
        Edge("computeGradient", "computeMaxGradient", 4.0 * pixels),
        Edge("computeMaxGradient", "rejectZeroCrossings", 4.0),
        Edge("rejectZeroCrossings", "sink", 4.0 * pixels),
    )
    return Workload(
        name="edge-detection",
        applications=(Application("edge-detection", tasks, edges, latency_budget_ms=34.0),),
        power_budget_mw=FARSI_POWER_BUDGET_MW,
        area_budget_mm2=FARSI_AREA_BUDGET_MM2,
        description=f"edge detection on a {width}x{height} frame, FARSI's edge_detection graph and profile",
    )


def camera_pipeline(width: int = 201, height: int = 151, tiles: int = 1) -> Workload:
    """The CAVA camera vision pipeline on a ``width`` x ``height`` frame cut into ``tiles`` strips."""
    _check_dimensions(width=width, height=height, tiles=tiles)
    if tiles > height:
        raise WorkloadError(f"camera-pipeline: tiles ({tiles}) cannot exceed the frame height ({height})")
    pixels = width * height / tiles
    rows = height // tiles
    tasks = [Task("source")]
    edges = []
    for tile in range(tiles):
        previous, previous_bytes = "source", _CAMERA_RAW_BYTES_PER_PIXEL
        for name, kernel, a53, ip, out_bytes in _CAMERA_STAGES:
            task = f"{name}_{tile}"
            # One loop iteration per row of the strip; the work of any leftover rows is spread over them.
            tasks.append(Task(task, work=_FARSI_A53_IPC * a53 / _CAMERA_FARSI_PIXELS * pixels / rows, loops=rows, kernel=kernel,
                              speedup=_speedup(a53, ip)))
            edges.append(Edge(previous, task, previous_bytes * pixels))
            previous, previous_bytes = task, out_bytes
        edges.append(Edge(previous, "sink", previous_bytes * pixels))
    tasks.append(Task("sink"))
    return Workload(
        name="camera-pipeline",
        applications=(Application("camera-pipeline", tuple(tasks), tuple(edges), latency_budget_ms=34.0),),
        power_budget_mw=FARSI_POWER_BUDGET_MW,
        area_budget_mm2=FARSI_AREA_BUDGET_MM2,
        description=f"CAVA camera pipeline on a {width}x{height} frame in {tiles} strips, FARSI's hpvm_cava profile",
    )


def audio_decoder() -> Workload:
    """FARSI's 3-D audio decoder (a bundled data file)."""
    data = resources.files("archgym.simulators.soc").joinpath("taskgraphs", "audio-decoder.yaml")
    with resources.as_file(data) as path:
        return load_workload_file(path)


def ar_vr() -> Workload:
    """The three AR/VR applications running together."""
    return combine(
        "ar-vr",
        (audio_decoder(), edge_detection(), camera_pipeline()),
        "audio decoder, edge detection and camera pipeline together, as in FARSI's AR/VR study",
    )


WORKLOAD_BUILDERS: dict[str, Callable[..., Workload]] = {
    "audio-decoder": audio_decoder,
    "edge-detection": edge_detection,
    "camera-pipeline": camera_pipeline,
    "ar-vr": ar_vr,
}
"""Bundled workload names and the functions that build them (keyword arguments are their parameters)."""

BUNDLED_WORKLOADS: tuple[str, ...] = tuple(WORKLOAD_BUILDERS)
"""Names of the bundled workloads."""

_PARAMETERS = {"edge-detection": ("width", "height"), "camera-pipeline": ("width", "height", "tiles")}


def resolve_workload(workload: Any) -> Workload:
    """The :class:`Workload` a name, spec string, file path or workload stands for.

    Raises:
        UnknownNameError: a name that is neither bundled nor an existing file.
        WorkloadError: malformed parameters or a malformed file.
    """
    if isinstance(workload, Workload):
        return workload
    if isinstance(workload, Path) or (isinstance(workload, str) and Path(workload).suffix.lower() in
                                      (".yaml", ".yml", ".csv")):
        return load_workload_file(workload)
    if not isinstance(workload, str):
        raise WorkloadError(f"a SoC workload is a name, a task-graph file or a Workload, got {type(workload).__name__}")
    name, _, params = workload.strip().partition(":")
    if name not in WORKLOAD_BUILDERS:
        raise UnknownNameError(
            f"unknown SoC workload {workload!r}; bundled workloads are {', '.join(BUNDLED_WORKLOADS)} "
            "(or give a .yaml / .csv task-graph file)"
        )
    return WORKLOAD_BUILDERS[name](**_parse_parameters(name, params))


def _parse_parameters(name: str, text: str) -> dict[str, int]:
    allowed = _PARAMETERS.get(name, ())
    values: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in allowed:
            takes = f"takes {', '.join(allowed)}" if allowed else "takes no parameters"
            raise WorkloadError(f"workload {name!r}: cannot use {item!r}; it {takes} as key=value")
        try:
            values[key] = int(value)
        except ValueError:
            raise WorkloadError(f"workload {name!r}: {key} must be an integer, got {value.strip()!r}") from None
    return values


def _check_dimensions(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkloadError(f"{key} must be a positive integer, got {value!r}")
