"""SoC workloads: the bundled task graphs and the YAML / CSV task-graph loader."""

from __future__ import annotations

import pytest

from archgym.errors import WorkloadError
from archgym.simulators.soc import (
    BUNDLED_WORKLOADS,
    Application,
    Edge,
    SocAnalyticalModel,
    Task,
    resolve_workload,
)
from archgym.simulators.soc.loader import load_workload_file


def test_bundled_workloads_carry_farsis_budgets():
    for name in BUNDLED_WORKLOADS:
        workload = resolve_workload(name)
        assert workload.power_budget_mw == 8.737 and workload.area_budget_mm2 == 17.475
        assert all(a.latency_budget_ms in (21.0, 34.0) for a in workload.applications)
    assert [a.name for a in resolve_workload("ar-vr").applications] == [
        "audio-decoder", "edge-detection", "camera-pipeline"
    ]
    assert resolve_workload("ar-vr").period_ms == 34.0


def test_audio_decoder_is_farsis_graph():
    app = resolve_workload("audio-decoder").applications[0]
    assert len(app.tasks) == 17 and len(app.edges) == 22
    # The A53 column of FARSI's task-performance table, summed: cycles, which FARSI turns into work by IPC 2.
    assert app.total_instructions == 2 * 6_304_373
    assert app.tasks[app.order[0]].name == "source" and app.tasks[app.order[-1]].name == "sink"


def test_parameterised_graphs_scale_with_the_frame():
    small, large = resolve_workload("edge-detection:width=640,height=640"), resolve_workload("edge-detection")
    assert large.applications[0].total_instructions == pytest.approx(4 * small.applications[0].total_instructions)
    # Every buffer is an image but the 4-byte maximum gradient.
    assert large.applications[0].total_bytes - 4 == pytest.approx(4 * (small.applications[0].total_bytes - 4))
    tiles = resolve_workload("camera-pipeline:tiles=4").applications[0]
    assert len(tiles.tasks) == 2 + 4 * 7
    assert tiles.total_instructions == pytest.approx(resolve_workload("camera-pipeline").applications[0].total_instructions)


def test_default_frames_carry_farsis_profiles():
    # FARSI's tables give A53 cycles; its work is twice that (Dhrystone IPC 2), per frame.
    edge = resolve_workload("edge-detection").applications[0]
    assert edge.total_instructions == pytest.approx(2 * 3294825984)
    assert edge.total_bytes == pytest.approx(8 * 1280 * 1280 + 6 * 4 * 1280 * 1280 + 4)
    camera = resolve_workload("camera-pipeline").applications[0]
    assert camera.total_instructions == pytest.approx(2 * 84882331754)
    speedups = {t.name: t.speedup for t in camera.tasks}
    # FARSI's gamut-map IP: 3,387,311,728 cycles at 800 MHz against 81,304,050,420 A53 cycles at 1 GHz.
    assert speedups["gamut_0"] == pytest.approx(81304050420 / 3387311728 * 0.8)
    audio = resolve_workload("audio-decoder").applications[0]
    fir = next(t for t in audio.tasks if t.name == "FIR_left")
    assert (fir.instructions, fir.loops) == (pytest.approx(2 * 679206), 16400)


def test_task_graph_validation():
    with pytest.raises(WorkloadError, match="speedup"):
        Application("bad", (Task("a", work=1.0, kernel="fft", speedup=0.0),))
    with pytest.raises(WorkloadError, match="cycle"):
        Application("loop", (Task("a"), Task("b")), (Edge("a", "b"), Edge("b", "a")))
    with pytest.raises(WorkloadError, match="unknown task 'c'"):
        Application("x", (Task("a"),), (Edge("a", "c"),))
    with pytest.raises(WorkloadError, match="unknown kernel 'gpu'"):
        Application("x", (Task("a", kernel="gpu"),))
    with pytest.raises(WorkloadError, match="duplicate task"):
        Application("x", (Task("a"), Task("a")))


YAML = """\
name: tiny
power_budget_mw: 5
area_budget_mm2: 10
applications:
  - name: vision
    latency_budget_ms: 20
    tasks:
      - {name: capture}
      - {name: blur, kernel: filter, work: 100000, loops: 10}
      - {name: detect, work: 500000}
    edges:
      - {from: capture, to: blur, bytes: 76800}
      - {from: blur, to: detect, bytes: 76800}
"""


def test_yaml_workload_loads_and_evaluates(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(YAML)
    workload = load_workload_file(path)
    assert workload.name == "tiny" and workload.period_ms == 20.0
    app = workload.applications[0]
    assert app.total_instructions == 1_500_000 and app.latency_budget_ms == 20.0
    model = SocAnalyticalModel()
    evaluation = model.evaluate(model.default_design(), str(path))
    assert evaluation.feasible and evaluation.metrics["latency_ms"] > 0


def test_single_application_yaml(tmp_path):
    path = tmp_path / "one.yml"
    path.write_text("latency_budget_ms: 5\ntasks:\n  - {name: a, work: 10}\n")
    workload = load_workload_file(path)
    assert workload.applications[0].name == "one" and workload.applications[0].latency_budget_ms == 5.0


@pytest.mark.parametrize(("text", "message"), [
    (YAML.replace("work: 100000", "work: lots"), "line 9, field 'work': expected a number"),
    (YAML.replace("loops: 10", "loops: 2.5"), "line 9, field 'loops': expected an integer"),
    (YAML.replace("{from: blur, to: detect, bytes: 76800}", "{from: blur, bytes: 76800}"), "line 13, field 'to'"),
    (YAML.replace("kernel: filter", "colour: red"), "line 9: unknown field(s) 'colour'"),
    (YAML.replace("to: detect", "to: nowhere"), "unknown task 'nowhere'"),
    ("tasks: [a, b\n", "not valid YAML"),
])
def test_malformed_yaml_names_line_and_field(tmp_path, text, message):
    error = _load_error(tmp_path / "bad.yaml", text)
    assert message in error and "bad.yaml" in error


def _load_error(path, text):
    """The message of the WorkloadError raised by loading ``text`` from ``path``."""
    path.write_text(text)
    with pytest.raises(WorkloadError) as error:
        load_workload_file(path)
    return str(error.value)


CSV = """\
type,application,name,kernel,work,loops,from,to,bytes,value
task,vision,capture,,,,,,,
task,vision,blur,filter,100000,10,,,,
task,vision,detect,,500000,,,,,
edge,vision,,,,,capture,blur,76800,
edge,vision,,,,,blur,detect,76800,
budget,vision,latency_ms,,,,,,,20
budget,,power_mw,,,,,,,5
budget,,area_mm2,,,,,,,10
"""


def test_a_tasks_speedup_is_read_from_yaml_and_csv(tmp_path):
    (tmp_path / "fast.yaml").write_text(
        "name: fast\ntasks:\n  - {name: f, kernel: fft, work: 10, speedup: 12.5}\n  - {name: g, work: 1}\n"
    )
    (tmp_path / "fast.csv").write_text(
        "type,application,name,kernel,work,loops,from,to,bytes,value,speedup\n"
        "task,fast,f,fft,10,,,,,,12.5\ntask,fast,g,control,1,,,,,,\n"
    )
    for name in ("fast.yaml", "fast.csv"):
        tasks = load_workload_file(tmp_path / name).applications[0].tasks
        assert [t.speedup for t in tasks] == [12.5, None]
    (tmp_path / "slow.yaml").write_text("name: slow\ntasks:\n  - {name: f, kernel: fft, work: 10, speedup: 0}\n")
    with pytest.raises(WorkloadError, match="speedup must be a finite number > 0"):
        load_workload_file(tmp_path / "slow.yaml")


def test_csv_workload_matches_the_yaml_one(tmp_path):
    (tmp_path / "tiny.yaml").write_text(YAML)
    (tmp_path / "tiny.csv").write_text(CSV)
    from_yaml, from_csv = load_workload_file(tmp_path / "tiny.yaml"), load_workload_file(tmp_path / "tiny.csv")
    assert from_csv.applications == from_yaml.applications
    assert (from_csv.power_budget_mw, from_csv.area_budget_mm2) == (5.0, 10.0)


@pytest.mark.parametrize(("text", "message"), [
    (CSV.replace("blur,filter,100000", "blur,filter,-5"), "line 3, field 'work'"),
    (CSV.replace("budget,,power_mw", "budget,,volume"), "line 8, field 'name': unknown budget 'volume'"),
    (CSV.replace("edge,vision,,,,,capture", "wire,vision,,,,,capture"), "line 5, field 'type'"),
    ("kind,name\n", "line 1: missing column(s) type, application"),
])
def test_malformed_csv_names_line_and_field(tmp_path, text, message):
    assert message in _load_error(tmp_path / "bad.csv", text)


def test_unknown_file_type_and_missing_file(tmp_path):
    with pytest.raises(WorkloadError, match="no such task-graph file"):
        load_workload_file(tmp_path / "missing.yaml")
    (tmp_path / "graph.json").write_text("{}")
    with pytest.raises(WorkloadError, match=r"\.yaml, \.yml or \.csv"):
        load_workload_file(tmp_path / "graph.json")
