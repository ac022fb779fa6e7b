"""Loading a proxy runs no code from its files unless trusted; proxy.json and --out are checked before use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import archgym  # noqa: F401  (registers the environments)
from archgym.cli import app
from archgym.cost_model import make_backend
from archgym.errors import ConfigurationError, ProxyError
from archgym.proxy import Proxy, knob_matrix, load_proxy, read_proxy_metadata, train_proxy
from archgym.proxy.plain import load_plain
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE

SAVED_BEFORE = Path(__file__).parent / "data" / "proxy_v1"
"""A real proxy pickled (model.joblib) by an earlier version of the package."""

TARGETS = ["total_time_ns", "energy_pj"]

runner = CliRunner()


def _one_error(output: str) -> str:
    """The command's error message, checked to be a single message without a traceback (the console wraps it)."""
    text = " ".join(output.split())
    assert text.startswith("error: ") and text.count("error: ") == 1 and "Traceback" not in text, output
    return text


class _CreatesMarker:
    """Unpickling this creates the file ``marker``: stands for any code a crafted pickle runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def _crafted_pickled_proxy(directory: Path, marker: Path) -> Path:
    """A proxy directory of the earlier (pickled) format whose model.joblib creates ``marker`` when unpickled."""
    directory.mkdir(parents=True, exist_ok=True)
    metadata = json.loads((SAVED_BEFORE / "proxy.json").read_text())
    (directory / "proxy.json").write_text(json.dumps(metadata))
    joblib.dump({"targets": [t["name"] for t in metadata["targets"]], "regressor": _CreatesMarker(marker)},
                directory / "model.joblib")
    return directory


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Analytical results of 80 random designs on the random trace."""
    model = make_backend("dram/analytical")
    indices = DRAM_DESIGN_SPACE.sample_indices(80, np.random.default_rng(3))
    batch = model.evaluate_batch(indices, "random")
    frame = pd.DataFrame([DRAM_DESIGN_SPACE.decode(row) for row in indices]).assign(workload="random")
    for name, values in batch.metrics.items():
        frame[name] = values
    return frame


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, rows: pd.DataFrame) -> Path:
    proxy = train_proxy(rows, problem="dram", targets=TARGETS, model="et", seed=0)
    return proxy.save(tmp_path_factory.mktemp("models") / "safe")


# -- the crafted pickle is never run without trust ---------------------------------------------------


def test_the_crafted_pickle_does_run_code_when_trusted(tmp_path: Path) -> None:
    # Checks the bait: without this, the tests below that find no marker would prove nothing.
    proxy = _crafted_pickled_proxy(tmp_path / "crafted", tmp_path / "marker")
    with pytest.raises(ProxyError, match="does not hold a regressor"):
        load_proxy(proxy, trust=True)
    assert (tmp_path / "marker").exists()


def test_loading_without_trust_does_not_unpickle(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    proxy = _crafted_pickled_proxy(tmp_path / "crafted", marker)
    with pytest.raises(ProxyError, match="pickle.*was not loaded.*archgym proxy convert .* --trust"):
        load_proxy(proxy)
    with pytest.raises(ProxyError, match="was not loaded"):
        make_backend("dram/proxy", proxy=proxy)
    result = runner.invoke(app, ["proxy", "eval", "--model", str(proxy), "--data", str(tmp_path / "none.csv")])
    assert result.exit_code == 2 and "was not loaded" in _one_error(result.output)
    assert not marker.exists()


def test_a_plain_proxy_never_reads_a_pickle_lying_beside_it(tmp_path: Path, saved: Path) -> None:
    marker = tmp_path / "marker"
    proxy = Path(shutil.copytree(saved, tmp_path / "proxy"))
    joblib.dump({"regressor": _CreatesMarker(marker)}, proxy / "model.joblib")
    loaded = load_proxy(proxy)
    assert loaded.predict(DRAM_DESIGN_SPACE.sample_indices(3, 0), "random")[1].all()
    assert not marker.exists()


def test_proxy_info_reads_only_proxy_json(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    proxy = _crafted_pickled_proxy(tmp_path / "crafted", marker)
    result = runner.invoke(app, ["proxy", "info", "--model", str(proxy)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "pickled by an earlier version" in text and "total_time_ns (log)" in text
    assert not marker.exists()


def test_an_array_file_holding_a_pickle_is_refused_unread(tmp_path: Path, saved: Path) -> None:
    marker = tmp_path / "marker"
    proxy = Path(shutil.copytree(saved, tmp_path / "proxy"))
    np.savez(proxy / "model.npz", structure=np.array([_CreatesMarker(marker)], dtype=object))
    with pytest.raises(ProxyError, match="model.npz is corrupt or unreadable"):
        load_proxy(proxy)
    assert not marker.exists()


def test_resume_never_trusts_the_proxy_its_records_name(tmp_path: Path, saved: Path) -> None:
    proxy = Path(shutil.copytree(saved, tmp_path / "proxy"))
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", "--backend", "proxy", "--proxy", str(proxy), "--workload", "random",
                                 "--objective", "time", "--budget", "5", "--out", str(runs)])
    assert result.exit_code == 0, result.output
    # Someone swaps the proxy the run's records name for a crafted pickle.
    shutil.rmtree(proxy)
    marker = tmp_path / "marker"
    _crafted_pickled_proxy(proxy, marker)
    result = runner.invoke(app, ["run", "--out", str(runs), "--resume", "--budget", "10"])
    assert result.exit_code == 2
    assert "archgym proxy convert" in _one_error(result.output)
    assert not marker.exists()


# -- trusted pickles and conversion --------------------------------------------------------------------


def test_a_real_pickled_proxy_loads_with_trust_on_the_command_line(tmp_path: Path, rows: pd.DataFrame) -> None:
    data = tmp_path / "rows.csv"
    rows.to_csv(data, index=False)
    arguments = ["proxy", "eval", "--model", str(SAVED_BEFORE), "--data", str(data), "--json"]
    refused = runner.invoke(app, arguments)
    assert refused.exit_code == 2 and "was not loaded" in _one_error(refused.output)
    result = runner.invoke(app, [*arguments, "--trust"])
    assert result.exit_code == 0, result.output
    assert {r["target"] for r in json.loads(result.output)} >= set(TARGETS)


def test_convert_needs_trust_and_writes_the_plain_format(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(SAVED_BEFORE, tmp_path / "old"))
    result = runner.invoke(app, ["proxy", "convert", str(copy)])
    assert result.exit_code == 2 and "--trust" in _one_error(result.output)
    assert read_proxy_metadata(copy)["format_version"] == 1

    result = runner.invoke(app, ["proxy", "convert", str(copy), "--trust"])
    assert result.exit_code == 0, result.output
    assert read_proxy_metadata(copy)["format_version"] == 2
    assert (copy / "model.npz").is_file() and not (copy / "model.joblib").exists()
    designs = DRAM_DESIGN_SPACE.sample_indices(20, 1)
    before, _, _ = load_proxy(SAVED_BEFORE, trust=True).predict(designs, "random")
    after, _, _ = load_proxy(copy).predict(designs, "random")
    for target, values in before.items():
        np.testing.assert_array_equal(after[target], values)

    result = runner.invoke(app, ["proxy", "convert", str(copy)])
    assert result.exit_code == 0 and "already in the plain format" in " ".join(result.output.split())


def test_a_base_backend_program_named_by_a_proxy_needs_trust(tmp_path: Path, saved: Path) -> None:
    proxy = Path(shutil.copytree(saved, tmp_path / "proxy"))
    metadata = json.loads((proxy / "proxy.json").read_text())
    metadata["base"] = {"backend": "dram/dramsys", "options": {"binary": str(tmp_path / "program")}}
    (proxy / "proxy.json").write_text(json.dumps(metadata))
    with pytest.raises(ProxyError, match="names a program its base backend runs \\(option binary="):
        load_proxy(proxy)
    assert load_proxy(proxy, trust=True).base == metadata["base"]


# -- the plain format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["et", "rf", "gbm", "hgb", "mlp"])
def test_plain_predictions_equal_scikit_learn_bit_for_bit(kind: str, rows: pd.DataFrame, tmp_path: Path) -> None:
    trained = train_proxy(rows, problem="dram", targets=TARGETS, model=kind, seed=0, test_fraction=0.0)
    loaded = Proxy.load(trained.save(tmp_path / kind))
    assert loaded.regressor is None
    designs = DRAM_DESIGN_SPACE.sample_indices(200, 11)
    features = trained.encoding.features(knob_matrix(DRAM_DESIGN_SPACE, designs), np.zeros(len(designs), int))
    scikit_learn = np.asarray(trained.regressor.predict(features)).reshape(len(designs), len(TARGETS))
    np.testing.assert_array_equal(loaded.predictor.predict(features), scikit_learn)
    before, _, _ = trained.predict(designs, "random")
    after, _, _ = loaded.predict(designs, "random")
    for target in TARGETS:
        np.testing.assert_array_equal(after[target], before[target])


def test_malformed_trees_are_refused(tmp_path: Path, saved: Path) -> None:
    proxy = Path(shutil.copytree(saved, tmp_path / "proxy"))
    with np.load(proxy / "model.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["left"] = arrays["left"].copy()
    split = np.flatnonzero(arrays["left"] >= 0)[0]
    arrays["left"][split] = split  # a node that is its own child would walk forever
    np.savez(proxy / "model.npz", **arrays)
    with pytest.raises(ProxyError, match="trees of the model are malformed"):
        load_plain(proxy / "model.npz")


# -- proxy.json fields and --out ------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["targets"][0].update(name=5), "field 'targets\\[0\\].name' is a number \\(5\\); expected a string"),
    (lambda m: m.update(test_metrics="good"), "field 'test_metrics' is a string \\(\"good\"\\); expected a list"),
    (lambda m: m["training"].update(targets=[1]), "field 'training.targets' is a list; expected an object"),
    (lambda m: m["encoding"].update(workloads="random"), "field 'encoding.workloads' is a string .*expected a list"),
    (lambda m: m.update(format_version="2"), "format version '2'"),
    (lambda m: m.pop("env"), "field 'env' is missing"),
])
def test_a_wrong_field_of_proxy_json_is_named(tmp_path: Path, saved: Path, change: object, message: str) -> None:
    proxy = Path(shutil.copytree(saved, tmp_path / "proxy"))
    metadata = json.loads((proxy / "proxy.json").read_text())
    change(metadata)  # type: ignore[operator]
    (proxy / "proxy.json").write_text(json.dumps(metadata))
    with pytest.raises(ProxyError, match=message):
        load_proxy(proxy)
    result = runner.invoke(app, ["proxy", "info", "--model", str(proxy)])
    assert result.exit_code == 2
    _one_error(result.output)


def test_train_checks_out_before_reading_data(tmp_path: Path, rows: pd.DataFrame) -> None:
    missing_data = tmp_path / "absent.csv"
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    result = runner.invoke(app, ["proxy", "train", "--data", str(missing_data), "--out", str(a_file)])
    assert result.exit_code == 2 and "is a file" in _one_error(result.output)
    assert a_file.read_text() == "keep me"

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("unrelated")
    result = runner.invoke(app, ["proxy", "train", "--data", str(missing_data), "--out", str(other)])
    message = _one_error(result.output)
    assert result.exit_code == 2 and "holds other files and no proxy" in message and "--force" in message

    data = tmp_path / "rows.csv"
    rows.to_csv(data, index=False)
    arguments = ["proxy", "train", "--data", str(data), "--targets", "energy_pj", "--test-fraction", "0"]
    assert runner.invoke(app, [*arguments, "--out", str(other), "--force"]).exit_code == 0
    assert (other / "notes.txt").is_file() and (other / "proxy.json").is_file()
    # An existing proxy is replaced without --force.
    result = runner.invoke(app, [*arguments, "--out", str(other)])
    assert result.exit_code == 0, result.output


def test_trust_is_never_a_recorded_backend_option() -> None:
    from archgym.cli.common import backend_options
    from archgym.runner import ObjectiveSpec, RunSpec

    with pytest.raises(ConfigurationError, match="trust is not a backend option; give --trust"):
        backend_options(["trust=true"])
    assert backend_options([], timeout_s=30.0) == {"timeout_s": 30.0}
    recorded = RunSpec("dram", "proxy", None, ObjectiveSpec("latency"), "random", 5,
                       backend_options={"proxy": "/p", "trust": True}).to_dict()
    assert RunSpec.from_dict(recorded).backend_options == {"proxy": "/p"}
