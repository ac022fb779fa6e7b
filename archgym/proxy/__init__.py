"""Proxy cost models: learned stand-ins for a backend, trained from logged evaluations.

A proxy is a regression model per metric (the *targets*) trained on rows of a
dataset (:mod:`archgym.dataset`) or a CSV of recorded results. Once trained it
is a backend like any other (``<env>/proxy``), so agents search on it at a
fraction of the cost of the model it learned from.

**Residual proxies.** With ``base="analytical"`` the proxy learns the
correction of another backend rather than the metric itself: the base
backend's metrics (``log``) become features and each target present in the
base is learned as ``log(y / base_y)``. A fast analytical model gets the
structure right and the proxy learns what it misses; on DRAMSys data this
turns a few percent error into a fraction of a percent (see
``benchmarks/proxy_dram.py``). The base backend runs at prediction time, so a
residual proxy costs the base's time plus the regression's.

The package, one concern per module:

- :mod:`~archgym.proxy.features`: the problem's facts (:func:`problem_reference`)
  and how designs, workloads and base metrics become features;
- :mod:`~archgym.proxy.regressors`: the regressor families (:data:`MODEL_KINDS`);
- :mod:`~archgym.proxy.data`: reading training rows from datasets and CSV files;
- :mod:`~archgym.proxy.metrics`: accuracy of predictions (:func:`score_proxy`);
- :mod:`~archgym.proxy.model`: the trained :class:`Proxy`, saved and loaded as a directory
  (:func:`load_proxy`, :func:`read_proxy_metadata`, :func:`convert_proxy`);
- :mod:`~archgym.proxy.plain`: fitted regressors as plain arrays, saved and loaded without pickle;
- :mod:`~archgym.proxy.training`: :func:`train_proxy`, with a held-out split by design;
- :mod:`~archgym.proxy.backend`: :class:`ProxyCostModel`, the ``<env>/proxy`` backend.

The predicted-vs-true plot is :func:`archgym.plots.plot_predictions`.

Example:
    >>> proxy = train_proxy("runs/sweep1", problem="dram", targets=["total_time_ns"])  # doctest: +SKIP
    >>> proxy.save("models/p1")  # doctest: +SKIP
    >>> env = gymnasium.make("archgym/DRAM-v0", backend="proxy", proxy="models/p1")  # doctest: +SKIP
"""

from archgym.plots import plot_predictions
from archgym.proxy.backend import ProxyCostModel
from archgym.proxy.data import WORKLOAD_COLUMN, load_training_data
from archgym.proxy.features import (
    FeatureEncoding,
    ProblemReference,
    design_space_of,
    knob_matrix,
    problem_reference,
)
from archgym.proxy.metrics import ProxyScore, prediction_metrics, score_proxy
from archgym.proxy.model import (
    FORMAT_VERSION,
    METADATA_FILE,
    MODEL_FILE,
    PICKLED_MODEL_FILE,
    PROXY_FORMAT,
    Proxy,
    TargetSpec,
    check_save_path,
    convert_proxy,
    load_proxy,
    read_proxy_metadata,
)
from archgym.proxy.regressors import MODEL_KINDS
from archgym.proxy.training import train_proxy

__all__ = [
    "FORMAT_VERSION",
    "METADATA_FILE",
    "MODEL_FILE",
    "MODEL_KINDS",
    "PICKLED_MODEL_FILE",
    "PROXY_FORMAT",
    "WORKLOAD_COLUMN",
    "FeatureEncoding",
    "ProblemReference",
    "Proxy",
    "ProxyCostModel",
    "ProxyScore",
    "TargetSpec",
    "check_save_path",
    "convert_proxy",
    "design_space_of",
    "knob_matrix",
    "load_proxy",
    "load_training_data",
    "plot_predictions",
    "prediction_metrics",
    "problem_reference",
    "read_proxy_metadata",
    "score_proxy",
    "train_proxy",
]
