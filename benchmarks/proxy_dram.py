"""Proxy cost models on the DRAM problem: accuracy on held-out designs, and speed against DRAMSys.

Part 1 trains on ``../shared/reference/dram/dramsys_ddr3_calibration.csv``
(600 designs x 4 traces measured with the real DRAMSys) with a grouped 80/20
split by design, and prints, per target and workload, the normalised RMSE
(RMSE / mean, in %) and the median absolute percentage error of three
predictors of the held-out designs: the residual proxy (extra trees learning
the correction of the analytical model, ``--base analytical``), a plain proxy
(extra trees on the design alone) and the analytical model by itself. The
split is repeated with several seeds to show the spread.

Then the residual proxy's batch throughput (designs per second, analytical
base included, one process) next to the per-evaluation wall time DRAMSys
took for the recorded rows.

Part 2 logs 20,000 evaluations of the analytical backend (5,000 random
designs x 4 workloads) to a dataset directory, trains a plain proxy on it the
same way (gradient boosting by default: large trees fit the rare, extreme
designs better than extra trees given this many rows) and prints its held-out
accuracy; for three independent samples of
designs, because a few rare, very slow designs (a one-entry buffer with a
closed page) dominate the squared error and differ from sample to sample.

Bars: part 1, residual proxy, median APE <= 1 % and normalised RMSE <= 3 % on
every target, and >= 2,000x faster than DRAMSys per evaluation; part 2,
normalised RMSE <= 1 % on every target (median over the samples).

Usage:
    python benchmarks/proxy_dram.py [--reference DIR] [--seeds 5] [--rows 20000] [--samples 3] [--model et]
        [--analytical-model hgb]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from archgym.cli.common import run_script
from archgym.cost_model import make_backend
from archgym.dataset import EvaluationLogger, RunContext
from archgym.errors import DatasetError
from archgym.proxy import ProxyCostModel, load_training_data, prediction_metrics, train_proxy

DEFAULT_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "dram"
TARGETS = ["total_time_ns", "energy_pj", "power_mw"]
THROUGHPUT_DESIGNS = 100_000
BAR_MDAPE_PCT, BAR_NRMSE_PCT, BAR_SPEEDUP, BAR_ANALYTICAL_NRMSE_PCT = 1.0, 3.0, 2_000, 1.0


def held_out_table(held_out: pd.DataFrame, analytical: pd.DataFrame, plain: pd.DataFrame) -> pd.DataFrame:
    """NRMSE and median APE per target and workload of the three predictors on the same held-out rows."""
    frames = []
    for label, frame in (("residual proxy", held_out), ("plain proxy", plain), ("analytical alone", analytical)):
        metrics = prediction_metrics(frame, TARGETS)
        metrics.insert(0, "predictor", label)
        frames.append(metrics)
    return pd.concat(frames, ignore_index=True)


def analytical_predictions(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the analytical model's metrics as ``<target>_predicted``."""
    model = make_backend("dram/analytical")
    out = rows.copy()
    for workload in pd.unique(rows["workload"]):
        mask = (rows["workload"] == workload).to_numpy()
        designs = rows.loc[mask, list(model.design_space.names)].to_dict(orient="records")
        batch = model.evaluate_batch(designs, workload)
        for target in TARGETS:
            out.loc[mask, f"{target}_predicted"] = batch.metrics[target]
    return out


def part_dramsys(reference: Path, seeds: int, model: str) -> bool:
    csv = reference / "dramsys_ddr3_calibration.csv"
    if not csv.is_file():
        raise DatasetError(
            f"missing the DRAMSys reference measurements {csv}: they are kept beside the project in "
            f"../shared/reference/dram (not in the repository); copy that folder there or point --reference at it"
        )
    space = make_backend("dram/analytical").design_space
    rows = load_training_data(csv, space)
    print(f"== part 1: DRAMSys rows ({csv}): {len(rows)} rows, "
          f"{rows.groupby(list(space.names)).ngroups} designs, workloads {', '.join(pd.unique(rows['workload']))}")

    spread: list[pd.DataFrame] = []
    detail = None
    residual = None
    for seed in range(seeds):
        start = time.perf_counter()
        proxy = train_proxy(rows, problem="dram", targets=TARGETS, model=model, base="analytical", seed=seed)
        fit_s = time.perf_counter() - start
        plain = train_proxy(rows, problem="dram", targets=TARGETS, model=model, seed=seed)
        assert proxy.held_out is not None and plain.held_out is not None
        table = held_out_table(proxy.held_out, analytical_predictions(proxy.held_out), plain.held_out)
        table.insert(0, "seed", seed)
        spread.append(table)
        if seed == 0:
            detail, residual = table, proxy
            print(f"split seed 0: {len(proxy.held_out)} held-out rows; residual proxy trained in {fit_s:.1f} s "
                  "(analytical base tables included)")
        else:
            proxy.close()

    assert detail is not None and residual is not None
    pd.set_option("display.width", 200)
    shown = detail.assign(nrmse=detail.nrmse_pct.map("{:.2f} %".format), mdape=detail.mdape_pct.map("{:.3f} %".format))
    print("\nheld-out accuracy, split seed 0 (NRMSE = RMSE / mean; median APE):")
    print(shown.pivot_table(index=["target", "workload"], columns="predictor", values=["nrmse", "mdape"],
                            aggfunc="first", sort=False).to_string())

    everything = pd.concat(spread, ignore_index=True)
    overall = everything[everything.workload == "all"]
    print(f"\nover {seeds} split seeds (all workloads; min / median / max):")
    summary = overall.groupby(["predictor", "target"], sort=False).agg(
        nrmse_min=("nrmse_pct", "min"), nrmse_median=("nrmse_pct", "median"), nrmse_max=("nrmse_pct", "max"),
        mdape_min=("mdape_pct", "min"), mdape_median=("mdape_pct", "median"), mdape_max=("mdape_pct", "max"),
    ).round(3)
    print(summary.to_string())

    # Throughput of the residual proxy as a backend: the analytical base, the features and the trees.
    backend = ProxyCostModel(residual)
    indices = space.sample_indices(THROUGHPUT_DESIGNS, np.random.default_rng(0))
    rates = {}
    for workload in residual.workloads:
        backend.prepare(workload)
        backend.evaluate_batch(indices[:100], workload)
        start = time.perf_counter()
        backend.evaluate_batch(indices, workload)
        rates[workload] = THROUGHPUT_DESIGNS / (time.perf_counter() - start)
    start = time.perf_counter()
    for row in indices[:200]:
        backend.evaluate(space.decode(row), "random")
    single_s = (time.perf_counter() - start) / 200
    backend.close()
    recorded = pd.read_csv(csv)["sim_wall_s"]
    proxy_s = 1.0 / min(rates.values())
    speedup = float(recorded.median()) / proxy_s
    print("\nspeed (one process):")
    for workload, rate in rates.items():
        print(f"  residual proxy, batch of {THROUGHPUT_DESIGNS:,} on {workload:8s}: {rate:,.0f} designs/s "
              f"({1e6 / rate:.1f} us per design)")
    print(f"  residual proxy, one design per call: {single_s * 1e3:.2f} ms (the trees' per-call overhead)")
    print(f"  DRAMSys, recorded per evaluation: median {recorded.median() * 1e3:.1f} ms, mean "
          f"{recorded.mean() * 1e3:.1f} ms")
    print(f"  speed-up per evaluation in batches (DRAMSys median / slowest proxy workload): {speedup:,.0f}x")

    residual_overall = detail[(detail.predictor == "residual proxy") & (detail.workload == "all")]
    met = True
    print("\nbars (residual proxy, split seed 0):")
    for row in residual_overall.itertuples(index=False):
        ok = row.mdape_pct <= BAR_MDAPE_PCT and row.nrmse_pct <= BAR_NRMSE_PCT
        met &= ok
        print(f"  {row.target:14s} median APE {row.mdape_pct:.3f} % (<= {BAR_MDAPE_PCT} %), NRMSE "
              f"{row.nrmse_pct:.2f} % (<= {BAR_NRMSE_PCT} %): {'met' if ok else 'MISSED'}")
    fast = speedup >= BAR_SPEEDUP
    met &= fast
    print(f"  speed-up {speedup:,.0f}x (>= {BAR_SPEEDUP:,}x): {'met' if fast else 'MISSED'}")
    return met


def logged_sample(directory: str, designs: int, seed: int) -> None:
    """Log every workload's evaluations of ``designs`` random designs of the analytical backend."""
    backend = make_backend("dram/analytical")
    space = backend.design_space
    indices = space.sample_indices(designs, np.random.default_rng(seed))
    for workload in backend.workloads():
        context = RunContext(run_id=f"sample{seed}-{workload}", env="dram", backend=backend.name,
                             workload=workload, agent="", objective="")
        with EvaluationLogger(directory, context, space, backend.metric_names) as logger:
            logger.log_batch([space.decode(row) for row in indices], backend.evaluate_batch(indices, workload))


def part_analytical(rows: int, samples: int, model: str) -> bool:
    workloads = make_backend("dram/analytical").workloads()
    designs = rows // len(workloads)
    print(f"\n== part 2: {designs:,} random designs x {len(workloads)} workloads logged from dram/analytical, "
          f"{samples} independent samples of designs")
    overall = []
    for sample in range(1, samples + 1):
        with tempfile.TemporaryDirectory() as directory:
            logged_sample(directory, designs, seed=sample)
            start = time.perf_counter()
            proxy = train_proxy(directory, problem="dram", targets=TARGETS, model=model, seed=0)
        metrics = pd.DataFrame(proxy.info["test_metrics"])
        print(f"sample {sample}: trained on {proxy.info['training']['train_rows']:,} rows in "
              f"{time.perf_counter() - start:.1f} s (loading included), {proxy.info['test_rows']:,} held-out rows; "
              "NRMSE in %:")
        print(metrics.pivot_table(index="target", columns="workload", values="nrmse_pct", sort=False)
              .round(3).to_string())
        overall.append(metrics[metrics.workload == "all"].assign(sample=sample))
    summary = pd.concat(overall).groupby("target", sort=False).agg(
        nrmse_min=("nrmse_pct", "min"), nrmse_median=("nrmse_pct", "median"), nrmse_max=("nrmse_pct", "max"),
        mdape_median=("mdape_pct", "median"),
    )
    print(f"over the {samples} samples (all workloads):")
    print(summary.round(4).to_string())
    met = True
    for target, row in summary.iterrows():
        ok = row.nrmse_median <= BAR_ANALYTICAL_NRMSE_PCT
        met &= ok
        print(f"  {target:14s} median NRMSE {row.nrmse_median:.3f} % (<= {BAR_ANALYTICAL_NRMSE_PCT} %; samples "
              f"{row.nrmse_min:.3f}-{row.nrmse_max:.3f} %): {'met' if ok else 'MISSED'}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--seeds", type=int, default=5, help="split seeds for the DRAMSys part")
    parser.add_argument("--rows", type=int, default=20_000, help="rows logged from the analytical backend")
    parser.add_argument("--samples", type=int, default=3, help="independent design samples for part 2")
    parser.add_argument("--model", default="et", help="proxy model of part 1")
    parser.add_argument("--analytical-model", default="hgb", help="proxy model of part 2")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; proxy models: {args.model} (part 1), "
          f"{args.analytical_model} (part 2)")
    first = part_dramsys(args.reference, args.seeds, args.model)
    second = part_analytical(args.rows, args.samples, args.analytical_model)
    print("\nall bars met" if first and second else "\nsome bars MISSED")


if __name__ == "__main__":
    run_script(main)
