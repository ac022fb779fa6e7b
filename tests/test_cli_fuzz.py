"""Every command, given hostile option values, ends with success or a clean error: never a traceback.

Hypothesis picks a command, starts from arguments that make it quick (tiny
budgets, small instances, a sweep's dry run) and replaces or adds one or two
options with values a careless or hostile user might type: negative, zero,
huge, NaN, not a number, deeply nested JSON, empty, a folder where a file
belongs and the other way round, a binary file, a missing path. Each command
runs in-process in a scratch folder. ``marl train`` and real (not dry-run)
sweeps start Ray or many runs and are tested on their own elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from archgym.cli import app

SWEEP_SPEC = """\
name: fuzz
envs: [dram]
backend: analytical
workloads: [stream]
objectives: [latency]
budget: 3
seeds: [0]
agents:
  - name: random
"""

# Quick, valid arguments for each command; {name} stands for a file or folder made by the fixture.
BASE: dict[tuple[str, ...], list[str]] = {
    ("envs",): [],
    ("agents",): [],
    ("evaluate",): [],
    ("optimum",): ["--workload", "stream"],
    ("run",): ["--budget", "3", "--workload", "stream", "--out", "{out}"],
    ("sweep",): ["{spec}", "--dry-run", "--out", "{out}"],
    ("report",): ["{dataset}", "--out", "{out}"],
    ("validate",): ["--against", "analytical", "--designs", "2", "--workload", "stream"],
    ("proxy", "train"): ["--data", "{dataset}", "--out", "{out}", "--targets", "total_time_ns"],
    ("proxy", "eval"): ["--model", "{proxy}", "--data", "{dataset}"],
    ("proxy", "info"): ["--model", "{proxy}"],
    ("proxy", "convert"): ["{proxy}", "--out", "{out}"],
    ("dataset", "upgrade"): ["{dataset_copy}"],
    ("trace", "info"): ["{trace}"],
    ("trace", "convert"): ["{trace}", "{out}.stl"],
    ("malloc", "solve"): ["--instance", "tiny", "--time-limit", "1"],
    ("malloc", "bench"): ["--instance", "tiny", "--time-limit", "1"],
}

HOSTILE = [
    "", "-1", "0", "nan", "inf", "-inf", "1e400", "99999999999999999999999", "-99999999999999999999999", "abc",
    "[" * 5000, '{"a": ' * 3000, "{}", "[]", "{folder}", "{text_file}", "{binary_file}", "{missing}", "ü✓",
]


def _options(command: tuple[str, ...]) -> list[tuple[str, bool]]:
    """The command's options as (name, is_flag)."""
    group = typer.main.get_command(app)
    node = group
    for name in command:
        node = node.commands[name]  # type: ignore[attr-defined]
    return [(p.opts[0], bool(getattr(p, "is_flag", False))) for p in node.params
            if getattr(p, "param_type_name", "") == "option" and p.opts[0] not in ("--help",)]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Inputs the commands read: a small dataset, a proxy trained on it, a trace, a sweep spec, odd files."""
    root = tmp_path_factory.mktemp("fuzz")
    runner = CliRunner()
    dataset = root / "dataset"
    made = runner.invoke(app, ["run", "--budget", "40", "--workload", "stream", "--out", str(dataset)])
    assert made.exit_code == 0, made.output
    proxy = root / "proxy"
    trained = runner.invoke(app, ["proxy", "train", "--data", str(dataset), "--out", str(proxy),
                                  "--targets", "total_time_ns"])
    assert trained.exit_code == 0, trained.output
    trace = root / "tiny.stl"
    trace.write_text("".join(f"{i}:\tread\t0x{i * 64:x}\n" for i in range(200)))
    spec = root / "fuzz.yaml"
    spec.write_text(SWEEP_SPEC)
    (root / "folder").mkdir()
    (root / "text.txt").write_text("not what any command expects\n")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 4)
    return {"dataset": str(dataset), "proxy": str(proxy), "trace": str(trace), "spec": str(spec),
            "folder": str(root / "folder"), "text_file": str(root / "text.txt"),
            "binary_file": str(root / "binary.bin"), "missing": str(root / "missing" / "nothing.csv"),
            "root": str(root)}


def _fill(argument: str, names: dict[str, str]) -> str:
    """``{name}`` (optionally followed by a suffix) replaced by that file or folder; other values as they are."""
    match = re.fullmatch(r"\{(\w+)\}(\.\w+)?", argument)
    if match is None or match.group(1) not in names:
        return argument
    return names[match.group(1)] + (match.group(2) or "")


@st.composite
def invocations(draw: st.DrawFn) -> tuple[tuple[str, ...], list[str]]:
    command = draw(st.sampled_from(sorted(BASE)))
    arguments = list(BASE[command])
    options = _options(command)
    for _ in range(draw(st.integers(1, 2))):
        if not options:
            break
        option, is_flag = draw(st.sampled_from(options))
        if is_flag:
            arguments.append(option)
            continue
        value = draw(st.sampled_from(HOSTILE))
        if option in arguments:
            arguments[arguments.index(option) + 1] = value
        else:
            arguments += [option, value]
    return command, arguments


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=invocations())
def test_hostile_options_end_in_success_or_a_clean_error(case: tuple[tuple[str, ...], list[str]],
                                                         scratch: dict[str, str], tmp_path: Path) -> None:
    command, arguments = case
    out = tmp_path / f"out-{abs(hash(tuple(arguments)))}"
    names = {**scratch, "out": str(out), "dataset_copy": str(tmp_path / "dataset-copy")}
    filled = [_fill(argument, names) for argument in arguments]
    if ("dataset", "upgrade") == command and not Path(names["dataset_copy"]).exists():
        shutil.copytree(scratch["dataset"], names["dataset_copy"])
    previous = os.getcwd()
    os.chdir(scratch["root"])  # an empty path means the working directory: keep it in the scratch folder
    try:
        result = CliRunner().invoke(app, [*command, *filled])
    finally:
        os.chdir(previous)
    shown = " ".join([*command, *(a if len(a) < 60 else a[:20] + "..." for a in filled)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"archgym {shown} raised {type(result.exception).__name__}: {str(result.exception)[:500]}\n"
        f"{result.output[-2000:]}"
    )
    assert "Traceback" not in result.output, f"archgym {shown} printed a traceback:\n{result.output[-2000:]}"
