"""The archgym command line, end to end on the bundled analytical DRAM model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archgym import __version__
from archgym.cli import app
from archgym.dataset import load_dataset, read_run_metadata

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_envs_lists_backends_workloads_knobs_and_agents():
    result = invoke("envs")
    assert result.exit_code == 0
    for text in ("dram/analytical", "archgym/DRAM-v0", "cloud-1", "MaxActiveTransactions", "442,368", "random"):
        assert text in result.output
    # The DRAM problem's catalog: its memory presets with type, speed bin, refresh policies and source.
    for text in ("memory presets", "ddr4-2400", "DDR4-2400", "JESD79-4", "lpddr4-3200", "hbm2-2000", "PerBank"):
        assert text in result.output


def test_envs_says_what_each_objective_scores_and_which_is_the_default():
    result = runner.invoke(app, ["envs", "--problem", "dram"], env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0
    lines = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert "latency (default) minimise total_time_ns (the run's total time), relative to its target" in lines
    assert "time minimise total_time_ns (the run's total time)" in lines
    assert "avg-latency minimise avg_latency_ns (the mean latency of a request)" in lines


def test_unknown_env_is_an_error():
    result = invoke("envs", "--env", "gpu")
    assert result.exit_code == 2
    assert "unknown problem 'gpu'" in result.output


def test_run_writes_a_dataset_and_prints_the_best_design(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--env", "dram", "--workload", "stream", "--agent", "random",
                    "--budget", "25", "--objective", "latency", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "best design after 25 evaluations" in result.output
    rows = load_dataset(out)
    assert len(rows) == 25 and list(rows.step) == list(range(25))
    assert rows.reward.max() == pytest.approx(rows.reward.loc[rows.reward.idxmax()])


def test_same_seed_same_result(tmp_path):
    for name in ("a", "b"):
        invoke("run", "--workload", "random", "--budget", "15", "--seed", "4", "--batch-size", "4", "--out", str(tmp_path / name))
    a, b = load_dataset(tmp_path / "a"), load_dataset(tmp_path / "b")
    assert a.drop(columns=["run_id", "timestamp", "wall_time_s"]).equals(b.drop(columns=["run_id", "timestamp", "wall_time_s"]))


def test_resume_continues_the_run_without_duplicates(tmp_path):
    out = tmp_path / "run"
    invoke("run", "--workload", "random", "--budget", "10", "--seed", "1", "--out", str(out))
    result = invoke("run", "--out", str(out), "--resume", "--budget", "30")
    assert result.exit_code == 0, result.output
    rows = load_dataset(out)
    assert list(rows.step) == list(range(30)) and rows.run_id.nunique() == 1
    whole = tmp_path / "whole"
    invoke("run", "--workload", "random", "--budget", "30", "--seed", "1", "--out", str(whole))
    assert load_dataset(whole).reward.tolist() == rows.reward.tolist()


def test_resume_without_a_run_is_an_error(tmp_path):
    result = invoke("run", "--out", str(tmp_path), "--resume")
    assert result.exit_code == 2 and "no run to resume" in result.output


def test_evaluate_prints_metrics_as_json():
    result = invoke("evaluate", "--design", json.dumps({"PagePolicy": "Closed"}), "--workload", "stream",
                    "--objective", "energy", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["design"]["PagePolicy"] == "Closed" and payload["feasible"]
    assert payload["metrics"]["total_time_ns"] > 100_000 and payload["reward"] < 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("evaluate", "--design", '{"PagePolcy": "Closed"}'), "unknown knob 'PagePolcy'"),
        (("evaluate", "--design", '{"RequestBufferSize": 3}'), "allowed values are 1, 2, 4"),
        (("evaluate", "--design", "{not json"), "not valid JSON"),
        (("evaluate", "--workload", "nope"), "unknown workload 'nope'"),
        (("run", "--agent", "nope", "--budget", "2"), "unknown agent 'nope'"),
        (("run", "--objective", "nope", "--budget", "2"), "nope"),
        (("run", "--agent-config", "mode", "--budget", "2"), "key=value"),
    ],
)
def test_bad_input_names_the_problem(tmp_path, args, message):
    extra = ("--out", str(tmp_path / "out")) if args[0] == "run" else ()
    result = invoke(*args, *extra)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_run_imports_a_plugin_that_registers_an_agent(tmp_path):
    plugin = Path(__file__).resolve().parents[1] / "experiments" / "custom_agent.py"
    out = tmp_path / "run"
    result = invoke("run", "--plugin", str(plugin), "--agent", "hill-climb", "--agent-config", "patience=5",
                    "--workload", "random", "--budget", "30", "--objective", "time", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = load_dataset(out)
    assert len(rows) == 30 and set(rows.agent) == {"hill-climb"}


def test_missing_plugin_is_a_clear_error(tmp_path):
    result = invoke("run", "--plugin", str(tmp_path / "absent.py"), "--agent", "x", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "plug-in file" in result.output and "does not exist" in " ".join(result.output.split())


def test_agents_lists_settings_and_explains_missing_extras():
    result = invoke("agents")
    assert result.exit_code == 0, result.output
    assert "random" in result.output and "local_prob" in result.output
    # Rich markup must not swallow the extra's name in install hints.
    assert "[rl]" in result.output or "n_steps" in result.output


def _evaluate_json(*args: str) -> dict:
    result = invoke("evaluate", "--workload", "stream", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_backend_option_equals_its_shortcut():
    by_option = _evaluate_json("--backend-option", "memspec=ddr4-2400")
    by_shortcut = _evaluate_json("--memspec", "ddr4-2400")
    assert by_option == by_shortcut
    assert by_option["metrics"] != _evaluate_json()["metrics"]
    # Both spellings may name one key, if they agree.
    assert _evaluate_json("--memspec", "ddr4-2400", "--backend-option", "memspec=ddr4-2400") == by_option


def test_backend_options_are_typed_like_agent_settings():
    # full_tables=false is a boolean, not the text "false".
    assert _evaluate_json("--backend-option", "full_tables=false") == _evaluate_json()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--backend-option", "colour=blue"), "backend dram/analytical has no option 'colour'; its options are"),
        (("--backend-option", "memspec"), "--backend-option 'memspec' is not of the form key=value"),
        (("--backend-option", "memspec=ddr4-2400", "--backend-option", "memspec=ddr3-1600"),
         "'memspec' is given more than once"),
        (("--memspec", "ddr3-1600", "--backend-option", "memspec=ddr4-2400"), "give memspec two values"),
        (("--backend", "proxy", "--proxy", "models/none", "--backend-option", "colour=blue"), "colour"),
    ],
)
def test_bad_backend_options_are_clear_errors(args, message):
    result = invoke("evaluate", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_run_records_backend_options_and_resumes_with_them(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--backend-option", "memspec=ddr4-2400", "--workload", "stream", "--budget", "6",
                    "--seed", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    (record,) = read_run_metadata(out)
    assert record["backend_options"] == {"memspec": "ddr4-2400"} and record["status"] == "complete"
    assert record["spec"]["backend_options"] == {"memspec": "ddr4-2400"} and record["budget"] == 6
    assert invoke("run", "--out", str(out), "--resume", "--budget", "12").exit_code == 0
    whole = tmp_path / "whole"
    invoke("run", "--memspec", "ddr4-2400", "--workload", "stream", "--budget", "12", "--seed", "3",
           "--out", str(whole))
    assert load_dataset(out).reward.tolist() == load_dataset(whole).reward.tolist()


def test_problem_names_the_problem_and_env_is_its_alias():
    by_problem = _evaluate_json("--problem", "dram")
    assert _evaluate_json("--env", "dram") == by_problem
    soc = invoke("evaluate", "--problem", "soc", "--json")
    assert soc.exit_code == 0, soc.output
    assert set(json.loads(soc.output)["design"]) != set(by_problem["design"])
    result = invoke("evaluate", "--problem", "gpu")
    assert result.exit_code == 2 and "unknown problem 'gpu'" in result.output
    assert "--problem" in invoke("run", "--help").output


def test_version_option_and_command_agree():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == __version__ == invoke("version").output.strip()


def test_resume_continues_the_newest_unfinished_run_with_its_own_budget(tmp_path):
    from archgym.runner import ObjectiveSpec, RunSpec, execute

    out = tmp_path / "runs"
    unfinished = RunSpec(problem="dram", backend="analytical", workload="stream", objective=ObjectiveSpec("time"),
                         agent="bo", budget=12, seed=1, config={"estimator": "ET", "initial_points": 4})

    def interrupt(progress) -> None:
        if progress.evaluations >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(unfinished, out, run_id="bo-unfinished", callback=interrupt)
    # A newer run that finished, by an agent whose name sorts after "bo".
    assert invoke("run", "--agent", "random", "--budget", "4", "--out", str(out)).exit_code == 0
    result = invoke("run", "--resume", "--out", str(out))
    assert result.exit_code == 0, result.output
    # Rich wraps long lines, leaving a space before the break, where the temporary path's length falls.
    assert "run bo-unfinished, resumed after" in " ".join(result.output.split())
    rows = load_dataset(out)
    assert (rows.run_id == "bo-unfinished").sum() == 12 and len(rows) == 16
    again = invoke("run", "--resume", "--out", str(out))
    assert again.exit_code == 0 and "is complete" in again.output
    assert len(load_dataset(out)) == 16


SLOW_AGENT = '''
import time

from archgym.agent import register_agent
from archgym.agents.random_walk import RandomWalk


@register_agent("slow-random")
class SlowRandom(RandomWalk):
    def suggest(self, n=1):
        time.sleep(0.02)
        return super().suggest(n)
'''


def _progress_lines(text: str, unit: str) -> list[tuple[int, int]]:
    """(done, total) of every progress log line of ``text``."""
    import re

    return [(int(done), int(total)) for done, total in re.findall(rf"(\d+)/(\d+) {unit}, ", text)]


def test_a_redirected_run_logs_progress_lines_every_few_seconds(tmp_path, monkeypatch):
    from archgym.cli import live_progress

    monkeypatch.setattr(live_progress, "LOG_INTERVAL_S", 0.1)
    plugin = tmp_path / "slow_agent.py"
    plugin.write_text(SLOW_AGENT)
    result = invoke("run", "--plugin", str(plugin), "--agent", "slow-random", "--workload", "random",
                    "--objective", "time", "--budget", "40", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    assert "━" not in result.stderr  # no bar: CliRunner's streams are not terminals
    lines = [line for line in result.stderr.splitlines() if line.startswith("slow-random on dram/random: ")]
    progress = _progress_lines("\n".join(lines), "evaluations")
    # One line at the start, one every 0.1 s of the 0.8 s or more the run takes, one at the end.
    assert len(progress) == len(lines) >= 5
    assert progress[0] == (0, 40) and progress[-1] == (40, 40)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert any(0 < done < 40 for done, _ in progress)
    assert "best reward -0.7" in lines[-1] and "evaluations/s" in lines[-1] and "s elapsed" in lines[-1]
    assert "best design after 40 evaluations" in result.stdout


def test_a_run_on_a_terminal_draws_a_bar_instead(tmp_path, monkeypatch):
    from rich.console import Console

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    result = invoke("run", "--workload", "random", "--objective", "time", "--budget", "20",
                    "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    assert "━" in result.stderr and "20/20" in result.stderr and "best reward" in result.stderr
    assert not _progress_lines(result.stderr, "evaluations")
    assert "evaluations/s" not in result.stderr


def test_a_redirected_sweep_logs_runs_done(tmp_path, monkeypatch):
    from archgym.cli import live_progress

    monkeypatch.setattr(live_progress, "LOG_INTERVAL_S", 0.1)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"name: tiny\nenv: dram\nworkloads: [random]\nobjectives: [time]\n"
        f"agents:\n  - name: random\nseeds: 3\nbudget: 30\nout: {tmp_path / 'out'}\n"
    )
    result = invoke("sweep", str(spec), "--workers", "1")
    assert result.exit_code == 0, result.output
    progress = _progress_lines(result.stderr, "runs")
    assert progress[0] == (0, 3) and progress[-1] == (3, 3)
    assert "sweep tiny: 3/3 runs, 90 evaluations, " in result.stderr
    assert "━" not in result.stderr


def test_trust_applies_to_proxies_only_and_never_to_resume(tmp_path: Path) -> None:
    wrong = runner.invoke(app, ["evaluate", "--trust"])
    assert wrong.exit_code != 0 and "--trust applies to --backend proxy, not 'analytical'" in wrong.output
    resumed = runner.invoke(app, ["run", "--out", str(tmp_path), "--resume", "--trust"])
    assert resumed.exit_code != 0 and "--trust does not apply to --resume" in " ".join(resumed.output.split())
    recorded = runner.invoke(app, ["run", "--backend-option", "trust=true", "--budget", "2", "--out", str(tmp_path)])
    assert recorded.exit_code != 0 and "trust is not a backend option" in " ".join(recorded.output.split())


def test_sim_timeout_is_the_timeout_s_backend_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--sim-timeout", "5"])
    assert result.exit_code != 0
    assert "backend dram/analytical has no option 'timeout_s'" in " ".join(result.output.split())


def test_marl_train_checks_its_budget_seed_and_out_before_starting_ray(tmp_path: Path) -> None:
    huge = runner.invoke(app, ["marl", "train", "--budget", "99999999999999999999", "--out", str(tmp_path / "m")])
    assert huge.exit_code == 2 and "is more than 10,000,000 evaluations" in " ".join(huge.output.split())
    afile = tmp_path / "file"
    afile.write_text("")
    taken = runner.invoke(app, ["marl", "train", "--out", str(afile)])
    assert taken.exit_code == 2 and "is a file; give a directory" in " ".join(taken.output.split())
    assert runner.invoke(app, ["marl", "train", "--seed", "-1"]).exit_code == 2
    spec = Path(__file__).resolve().parents[1] / "experiments" / "smoke_dram.yaml"
    swept = runner.invoke(app, ["sweep", str(spec), "--out", str(afile), "--dry-run"])
    assert swept.exit_code == 2 and "is a file; give a directory" in " ".join(swept.output.split())
