"""Suites of MiniMalloc files, equivalent forms, capacity minimisation and MiniMalloc as a reference.

Every placement a method reports is checked here by :func:`assert_legal`, written apart from the
library's own ``check_placement``: all pairs of buffers, in plain Python.
"""

from __future__ import annotations

import csv
import itertools
import os
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from archgym.cli import app
from archgym.errors import BackendUnavailableError, WorkloadError
from archgym.external import SimulatorOutputError
from archgym.simulators.malloc.generator import equivalent_forms, zero_slack_instance
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.minimalloc import capacity_in_name, load_suite, read_csv, write_csv
from archgym.simulators.malloc.minimalloc_binary import BINARY_VARIABLE, MiniMallocBinary, unavailable_reason
from archgym.simulators.malloc.solve import minimize_capacity, solve

runner = CliRunner()


def assert_legal(instance: Instance, offsets, capacity: int | None = None) -> None:
    """Every buffer placed, aligned, within ``capacity``, and no two live buffers share a byte."""
    limit = instance.capacity if capacity is None else capacity
    rows = list(zip(instance.ids, instance.starts.tolist(), instance.ends.tolist(), instance.sizes.tolist(),
                    [int(o) for o in offsets], strict=True))
    for name, _, _, size, offset in rows:
        assert offset >= 0, f"{name} is not placed"
        assert offset % instance.alignment == 0, f"{name} at {offset} is not aligned to {instance.alignment}"
        assert offset + size <= limit, f"{name} ends at {offset + size}, past {limit}"
    for (a, a_lo, a_hi, a_size, a_at), (b, b_lo, b_hi, b_size, b_at) in itertools.combinations(rows, 2):
        if a_lo < b_hi and b_lo < a_hi:
            assert a_at + a_size <= b_at or b_at + b_size <= a_at, f"{a} and {b} overlap"


def smallest_capacity_by_enumeration(instance: Instance) -> int:
    """The optimum: some order of the buffers, each put at the lowest offset where it fits, reaches it."""
    best = None
    conflicts = [[j for j in range(len(instance)) if j != i and instance.starts[i] < instance.ends[j]
                  and instance.starts[j] < instance.ends[i]] for i in range(len(instance))]
    for order in itertools.permutations(range(len(instance))):
        offsets: dict[int, int] = {}
        for i in order:
            taken = sorted((offsets[j], offsets[j] + int(instance.sizes[j])) for j in conflicts[i] if j in offsets)
            at, align = 0, instance.alignment
            for lo, hi in taken:
                if at + instance.sizes[i] <= lo:
                    break
                at = max(at, -(-hi // align) * align)
            offsets[i] = at
        peak = max(offsets[i] + int(instance.sizes[i]) for i in offsets)
        best = peak if best is None else min(best, peak)
    return best


def random_small(seed: int, n: int = 6, alignment: int = 1) -> Instance:
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 6, n)
    return Instance(f"r{seed}", tuple(f"b{i}" for i in range(n)), starts, starts + rng.integers(1, 5, n),
                    rng.integers(1, 9, n), 10_000, alignment)


def gapped_instance() -> Instance:
    """Peak live bytes 6, but with offsets aligned to 4 bytes the second 3-byte buffer starts at 4."""
    return Instance("gapped", ("x", "y", "z"), np.array([0, 0, 1]), np.array([2, 1, 3]), np.array([3, 3, 2]),
                    100, alignment=4)


# -- minimising the capacity ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(20))
def test_minimize_capacity_matches_enumeration(seed):
    instance = random_small(seed, alignment=(1, 2, 4, 8)[seed % 4])
    result = minimize_capacity(instance, time_limit=30)
    assert result.proven
    assert result.capacity == result.lower_bound == smallest_capacity_by_enumeration(instance)
    assert_legal(instance, result.offsets, result.capacity)


def test_minimize_capacity_proves_an_optimum_above_the_peak_live_bytes():
    instance = gapped_instance()
    optimum = smallest_capacity_by_enumeration(instance)
    assert optimum > instance.peak_live_bytes()
    result = minimize_capacity(instance, time_limit=30)
    assert (result.capacity, result.lower_bound) == (optimum, optimum) and result.proven and result.probes >= 1
    assert_legal(instance, result.offsets, optimum)


def test_minimize_capacity_of_a_zero_slack_instance_is_its_capacity():
    instance = zero_slack_instance(60, capacity=4096, seed=3)
    result = minimize_capacity(instance.with_capacity(10**6), time_limit=60)
    assert result.proven and result.capacity == 4096
    assert_legal(instance, result.offsets, 4096)


def test_minimize_capacity_without_time_reports_its_bounds():
    instance = zero_slack_instance(300, capacity=4096, seed=1)
    result = minimize_capacity(instance, time_limit=0.05)
    assert result.lower_bound == 4096 <= result.capacity
    assert_legal(instance, result.offsets, result.capacity)
    with pytest.raises(ValueError, match="time_limit must be positive"):
        minimize_capacity(instance, time_limit=0)


# -- equivalent forms -------------------------------------------------------------------------------
def test_equivalent_forms_keep_the_answer():
    instance = zero_slack_instance(80, capacity=2048, seed=2)
    forms = equivalent_forms(instance, seed=4)
    assert list(forms) == ["original", "reversed", "renamed", "reversed-renamed"]
    for name, form in forms.items():
        assert form.peak_live_bytes() == instance.peak_live_bytes() and len(form) == len(instance)
        assert sorted(form.sizes.tolist()) == sorted(instance.sizes.tolist())
        solution = solve(form, "best", time_limit=60)
        assert solution.fits and solution.optimal, name
        assert_legal(form, solution.offsets)
    assert forms["renamed"].ids != instance.ids
    small = random_small(7)
    answers = {smallest_capacity_by_enumeration(form) for form in equivalent_forms(small).values()}
    assert len(answers) == 1


# -- suites of files --------------------------------------------------------------------------------
def make_suite(folder) -> list[Instance]:
    instances = [zero_slack_instance(40 + 20 * k, capacity=1024 << k, seed=k) for k in range(3)]
    for k, instance in enumerate(instances):
        write_csv(instance, folder / f"{'ABC'[k]}.{instance.capacity}.csv")
    return instances


def test_load_suite_takes_capacities_from_file_names(tmp_path):
    instances = make_suite(tmp_path)
    loaded = load_suite(tmp_path)
    assert [i.name for i in loaded] == ["A.1024", "B.2048", "C.4096"]
    assert [i.capacity for i in loaded] == [i.capacity for i in instances]
    assert capacity_in_name("x/A.1048576.csv") == 1048576 and capacity_in_name("model.csv") is None
    (tmp_path / "model.csv").write_text("id,lower,upper,size\na,0,1,8\n")
    with pytest.raises(WorkloadError, match=r"model.csv: no capacity in the name"):
        load_suite(tmp_path)
    assert load_suite(tmp_path, capacity=64)[-1].capacity == 64
    with pytest.raises(WorkloadError, match="holds no .csv file"):
        load_suite(_empty(tmp_path))
    with pytest.raises(WorkloadError, match="is not a folder"):
        load_suite(tmp_path / "missing")


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_bench_suite_prints_and_writes_the_table(tmp_path, monkeypatch):
    monkeypatch.delenv(BINARY_VARIABLE, raising=False)
    make_suite(tmp_path)
    result = runner.invoke(app, ["malloc", "bench", "--suite", str(tmp_path), "--time-limit", "30",
                                 "--out", str(tmp_path / "table.out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "best: 3/3 fit, 3/3 proven" in result.output
    with (tmp_path / "table.out").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["instance"], r["method"], r["result"], r["proven"]) for r in rows] == [
        (name, "best", "fits", "yes") for name in ("A.1024", "B.2048", "C.4096")]
    bad = runner.invoke(app, ["malloc", "bench", "--suite", str(tmp_path / "missing")])
    assert bad.exit_code == 2 and "is not a folder" in bad.output
    missing = runner.invoke(app, ["malloc", "bench", "--suite", str(tmp_path), "--minimalloc",
                                  str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "does not exist or is not an executable" in " ".join(missing.output.split())


def test_solve_minimize_capacity_from_the_command_line(tmp_path):
    instance = gapped_instance()
    write_csv(instance, tmp_path / "gapped.csv")
    result = runner.invoke(app, ["malloc", "solve", "--instance", str(tmp_path / "gapped.csv"),
                                 "--minimize-capacity", "--alignment", "4", "--out", str(tmp_path / "placed.csv")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "smallest capacity 7 bytes, proven optimal" in result.output
    with (tmp_path / "placed.csv").open() as handle:
        offsets = [int(row["offset"]) for row in csv.DictReader(handle)]
    assert_legal(read_csv(tmp_path / "placed.csv", 7, alignment=4), offsets)
    result = runner.invoke(app, ["malloc", "solve", "--instance", "zero-slack-100", "--minimize-capacity",
                                 "--time-limit", "30"], catch_exceptions=False)
    assert result.exit_code == 0 and "smallest capacity 4,096 bytes, proven optimal" in result.output


def test_reported_placements_are_legal_in_every_form():
    instance = zero_slack_instance(120, capacity=8192, seed=11, horizon=480)
    for form in equivalent_forms(instance, seed=1).values():
        for method in ("best", "exact"):
            solution = solve(form, method, time_limit=60)
            assert solution.fits and solution.optimal, (form.name, method)
            assert_legal(form, solution.offsets)


# -- MiniMalloc as a reference ------------------------------------------------------------------------
def fake_minimalloc(tmp_path, behaviour: str):
    """A stand-in for the binary's command line, to check how each of its outcomes is read."""
    script = tmp_path / f"minimalloc-{behaviour}"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""
        import csv, sys, time
        flags = dict(arg[2:].split("=", 1) for arg in sys.argv[1:])
        behaviour = {behaviour!r}
        if behaviour == "stack":
            rows = list(csv.reader(open(flags["input"])))
            at, out = 0, [rows[0] + ["offset"]]
            for row in rows[1:]:
                out.append(row + [str(at)])
                at += int(row[3])
            csv.writer(open(flags["output"], "w"), lineterminator="\\n").writerows(out)
        elif behaviour == "overlap":
            rows = list(csv.reader(open(flags["input"])))
            out = [rows[0] + ["offset"]] + [row + ["0"] for row in rows[1:]]
            csv.writer(open(flags["output"], "w"), lineterminator="\\n").writerows(out)
        elif behaviour == "infeasible":
            print("NOT_FOUND: Error encountered during search.", file=sys.stderr)
            sys.exit(1)
        elif behaviour == "deadline":
            print("DEADLINE_EXCEEDED: Error encountered during search.", file=sys.stderr)
            sys.exit(1)
        elif behaviour == "crash":
            print("boom", file=sys.stderr)
            sys.exit(-11)
        elif behaviour == "hang":
            time.sleep(60)
    """))
    script.chmod(0o755)
    return script


def test_minimalloc_outcomes_are_read_and_checked(tmp_path):
    small = zero_slack_instance(12, capacity=1000, seed=0).with_capacity(10**6)
    solution = MiniMallocBinary(fake_minimalloc(tmp_path, "stack")).solve(small, time_limit=5)
    assert solution.method == "minimalloc" and solution.fits and solution.optimal
    assert_legal(small, solution.offsets)
    infeasible = MiniMallocBinary(fake_minimalloc(tmp_path, "infeasible")).solve(small, time_limit=5)
    assert not infeasible.fits and infeasible.optimal
    deadline = MiniMallocBinary(fake_minimalloc(tmp_path, "deadline")).solve(small, time_limit=5)
    assert not deadline.fits and deadline.optimal is False
    with pytest.raises(SimulatorOutputError, match="illegal.*overlaps"):
        MiniMallocBinary(fake_minimalloc(tmp_path, "overlap")).solve(small, time_limit=5)
    with pytest.raises(SimulatorOutputError, match="return code 245.*boom"):
        MiniMallocBinary(fake_minimalloc(tmp_path, "crash")).solve(small, time_limit=5)


def test_minimalloc_that_hangs_is_killed(tmp_path, monkeypatch):
    import archgym.simulators.malloc.minimalloc_binary as module

    monkeypatch.setattr(module, "_GRACE_S", 0.5)
    solution = MiniMallocBinary(fake_minimalloc(tmp_path, "hang")).solve(zero_slack_instance(5, seed=0),
                                                                          time_limit=0.5)
    assert not solution.fits and solution.optimal is False and solution.wall_time_s < 5


def test_minimalloc_missing_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv(BINARY_VARIABLE, raising=False)
    assert BINARY_VARIABLE in unavailable_reason()
    with pytest.raises(BackendUnavailableError, match=f"{BINARY_VARIABLE} is not set"):
        MiniMallocBinary()
    monkeypatch.setenv(BINARY_VARIABLE, str(tmp_path / "nothing"))
    with pytest.raises(BackendUnavailableError, match="is not an executable file"):
        MiniMallocBinary()


@pytest.mark.skipif(not os.environ.get(BINARY_VARIABLE),
                    reason=f"{BINARY_VARIABLE} is not set: no MiniMalloc binary to compare with (bring your own)")
def test_best_agrees_with_minimalloc():
    reference = MiniMallocBinary()
    for seed in range(3):
        instance = zero_slack_instance(60, capacity=4096, seed=seed)
        for capacity in (4096, 4095):
            mine = solve(instance.with_capacity(capacity), "best", time_limit=30)
            theirs = reference.solve(instance.with_capacity(capacity), time_limit=30)
            assert (mine.fits, mine.optimal) == (theirs.fits, theirs.optimal) == (capacity == 4096, True)
            if theirs.fits:
                assert_legal(instance, theirs.offsets)
