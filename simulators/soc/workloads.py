"""Bundled SoC workloads, modelled on the AR/VR pipelines FARSI studies, and workload lookup.

FARSI (Boroujerdian et al., "FARSI: An Early-stage Design Space Exploration
Framework to Tame the Domain-specific System-on-chip Complexity", ACM
Transactions on Embedded Computing Systems; ``facebookresearch/Project_FARSI``) explores SoCs for three AR/VR
applications under budgets. The bundled workloads follow them:

* ``audio-decoder``: FARSI's 3-D audio decoder; graph, work and bytes are
  FARSI's own tables (``taskgraphs/audio-decoder.yaml`` documents which).
* ``edge-detection``: FARSI's edge-detection graph (Gaussian smoothing, then
  a Laplacian and zero crossings in one branch and a gradient and its
  maximum in the other, joined by zero-crossing rejection). Per-pixel
  instruction counts keep the proportions of FARSI's A53 profile of the
  graph, scaled so that the 5x5 Gaussian costs 26 instructions per pixel;
  buffers hold 8-bit images and 16-bit intermediates. Parameters ``width``
  and ``height`` (default 640 x 480).
* ``camera-pipeline``: the HPVM CAVA camera vision pipeline that FARSI calls
  ``hpvm_cava`` (scale, demosaic, denoise, colour transform, gamut map, tone
  map, descale), with approximate per-pixel instruction counts of our own,
  16-bit raw input and 8-bit RGB buffers. The frame is cut into ``tiles``
  strips processed in parallel. Parameters ``width``, ``height`` (default
  320 x 240) and ``tiles`` (default 2).
* ``ar-vr``: all three running together, as in FARSI's main experiments.

Every bundled workload carries FARSI's budgets (``misc_database -
Budget.csv``): latency 21 ms for the audio decoder and 34 ms for edge
detection and the camera pipeline, power 8.737 mW and area 17.475 mm². The
workload repeats every latency budget (the longest, for ``ar-vr``).

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

_EDGE_INSTRUCTIONS_PER_PIXEL = {
    # FARSI's A53 profile (instructions per frame) scaled by 26 / 1,617,100,800.
    "gaussianSmoothing": 26.0,
    "laplacianEstimate": 26.0 * 421068800 / 1617100800,
    "computeZeroCrossings": 26.0 * 437452800 / 1617100800,
    "computeGradient": 26.0 * 427622400 / 1617100800,
    "computeMaxGradient": 26.0 * 14749184 / 1617100800,
    "rejectZeroCrossings": 26.0 * 37683200 / 1617100800,
}

_CAMERA_STAGES = (
    # (name, kernel, instructions per pixel, bytes per pixel of its output buffer)
    ("scale", "elementwise", 2.0, 2.0),
    ("demosaic", "filter", 30.0, 3.0),
    ("denoise", "filter", 60.0, 3.0),
    ("transform", "matrix", 12.0, 3.0),
    ("gamut", "matrix", 60.0, 3.0),
    ("tonemap", "elementwise", 8.0, 3.0),
    ("descale", "elementwise", 2.0, 3.0),
)
_CAMERA_RAW_BYTES_PER_PIXEL = 2.0


def edge_detection(width: int = 640, height: int = 480) -> Workload:
    """FARSI's edge-detection graph on a ``width`` x ``height`` 8-bit frame (one task loop per row)."""
    _check_dimensions(width=width, height=height)
    pixels = width * height
    ipp = _EDGE_INSTRUCTIONS_PER_PIXEL
    kernels = {
        "gaussianSmoothing": "filter",
        "laplacianEstimate": "filter",
        "computeZeroCrossings": "elementwise",
        "computeGradient": "filter",
        "computeMaxGradient": "control",
        "rejectZeroCrossings": "elementwise",
    }
    tasks = (
        Task("source"),
        *(Task(name, work=ipp[name] * width, loops=height, kernel=kernel) for name, kernel in kernels.items()),
        Task("sink"),
    )
    edges = (
        Edge("source", "gaussianSmoothing", 1.0 * pixels),
        Edge("gaussianSmoothing", "laplacianEstimate", 2.0 * pixels),
        Edge("gaussianSmoothing", "computeGradient", 2.0 * pixels),
        Edge("laplacianEstimate", "computeZeroCrossings", 2.0 * pixels),
        Edge("computeZeroCrossings", "rejectZeroCrossings", 1.0 * pixels),
        Edge("computeGradient", "computeMaxGradient", 2.0 * pixels),
        Edge("computeGradient", "rejectZeroCrossings", 2.0 * pixels),
        Edge("computeMaxGradient", "rejectZeroCrossings", 4.0),
        Edge("rejectZeroCrossings", "sink", 1.0 * pixels),
    )
    return Workload(
        name="edge-detection",
        applications=(Application("edge-detection", tasks, edges, latency_budget_ms=34.0),),
        power_budget_mw=FARSI_POWER_BUDGET_MW,
        area_budget_mm2=FARSI_AREA_BUDGET_MM2,
        description=f"edge detection on a {width}x{height} frame, modelled on FARSI's edge_detection graph",
    )


def camera_pipeline(width: int = 320, height: int = 240, tiles: int = 2) -> Workload:
    """The CAVA camera vision pipeline on a ``width`` x ``height`` raw frame cut into ``tiles`` strips."""
    _check_dimensions(width=width, height=height, tiles=tiles)
    if tiles > height:
        raise WorkloadError(f"camera-pipeline: tiles ({tiles}) cannot exceed the frame height ({height})")
    pixels = width * height / tiles
    rows = height // tiles
    tasks = [Task("source")]
    edges = []
    for tile in range(tiles):
        previous, previous_bytes = "source", _CAMERA_RAW_BYTES_PER_PIXEL
        for name, kernel, instructions, out_bytes in _CAMERA_STAGES:
            task = f"{name}_{tile}"
            # One loop iteration per row of the strip; the work of any leftover rows is spread over them.
            tasks.append(Task(task, work=instructions * pixels / rows, loops=rows, kernel=kernel))
            edges.append(Edge(previous, task, previous_bytes * pixels))
            previous, previous_bytes = task, out_bytes
        edges.append(Edge(previous, "sink", previous_bytes * pixels))
    tasks.append(Task("sink"))
    return Workload(
        name="camera-pipeline",
        applications=(Application("camera-pipeline", tuple(tasks), tuple(edges), latency_budget_ms=34.0),),
        power_budget_mw=FARSI_POWER_BUDGET_MW,
        area_budget_mm2=FARSI_AREA_BUDGET_MM2,
        description=f"CAVA camera pipeline on a {width}x{height} frame in {tiles} strips, modelled on FARSI's hpvm_cava",
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
