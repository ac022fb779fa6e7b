"""A trained proxy: its targets, predictions, and the directory it is saved in.

A saved proxy is a directory holding ``proxy.json`` (format, problem,
design-space fingerprint, feature encoding, targets and their transforms,
base backend, training-data summary, test metrics, package versions) and
``model.npz`` (the fitted regressor as plain arrays, see
:mod:`archgym.proxy.plain`). Loading reads JSON and numeric arrays only, so a
proxy from anyone can be loaded without running code from it, and checks the
format, every field's type and the design-space fingerprint.

Proxies saved by earlier versions (format version 1) hold ``model.joblib``, a
pickle, which can run arbitrary code when loaded. They load only with
``trust=True`` (``--trust`` on the command line); :func:`convert_proxy`
(``archgym proxy convert DIR --trust``) rewrites one in the plain format once.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import archgym
from archgym.cost_model import CostModel, make_backend
from archgym.errors import DatasetError, ProxyError
from archgym.proxy.data import WORKLOAD_COLUMN
from archgym.proxy.features import (
    FeatureEncoding,
    base_metric_values,
    design_space_of,
    design_spaces_of,
    knob_matrix,
)
from archgym.proxy.plain import PlainModel, load_plain, save_plain, to_plain
from archgym.space import DesignSpace

__all__ = [
    "FORMAT_VERSION",
    "METADATA_FILE",
    "MODEL_FILE",
    "PICKLED_FORMAT_VERSION",
    "PICKLED_MODEL_FILE",
    "PROXY_FORMAT",
    "TRANSFORMS",
    "Proxy",
    "TargetSpec",
    "check_save_path",
    "convert_proxy",
    "load_proxy",
    "package_versions",
    "read_proxy_metadata",
]

_log = logging.getLogger(__name__)

PROXY_FORMAT = "archgym-proxy"
FORMAT_VERSION = 2
"""The format version this version of ArchGym writes: the regressor as plain arrays in :data:`MODEL_FILE`."""
PICKLED_FORMAT_VERSION = 1
"""The earlier format: the regressor pickled in :data:`PICKLED_MODEL_FILE`, loaded only when trusted."""
METADATA_FILE = "proxy.json"
MODEL_FILE = "model.npz"
PICKLED_MODEL_FILE = "model.joblib"
TRANSFORMS = ("log", "log_ratio", "identity")
"""How a target's values are learned (see :class:`TargetSpec`)."""


@dataclass(frozen=True)
class TargetSpec:
    """One learned metric.

    Args:
        name: The metric (a data column).
        transform: ``"log"`` (learn ``log y``), ``"log_ratio"`` (learn
            ``log(y / base_y)``) or ``"identity"``.
    """

    name: str
    transform: str

    def learned(self, y: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """The values the regressor learns for metric values ``y``.

        Args:
            y: Metric values.
            base: The base backend's values of the same metric (``log_ratio`` only).
        """
        if self.transform == "log":
            return np.log(y)
        if self.transform == "log_ratio":
            assert base is not None, "a log_ratio target needs its base values"
            return np.log(y) - np.log(base)
        return y

    def metric_values(self, learned: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Metric values of regressor outputs: the inverse of :meth:`learned`."""
        with np.errstate(over="ignore", invalid="ignore"):
            if self.transform == "log":
                return np.exp(learned)
            if self.transform == "log_ratio":
                assert base is not None, "a log_ratio target needs its base values"
                return np.exp(learned) * base
        return learned


class Proxy:
    """A trained proxy: a regressor of all targets, with its feature encoding and provenance.

    Build one with :func:`archgym.proxy.train_proxy` or :meth:`load`; use it
    directly with :meth:`predict`, or as a backend through
    :class:`archgym.proxy.ProxyCostModel`.

    Attributes:
        env: The problem, e.g. ``"dram"``.
        design_space: The knobs.
        encoding: How inputs become features.
        targets: The learned metrics and their transforms.
        regressor: The fitted scikit-learn regressor when the proxy was trained (or
            loaded from a trusted pickle) in this process; None when loaded from
            the plain format.
        predictor: The regressor as plain arrays (:mod:`archgym.proxy.plain`),
            which makes every prediction; one column per target.
        model_kind: The regressor family (see :data:`archgym.proxy.MODEL_KINDS`).
        base: ``{"backend": name, "options": {...}}`` for a residual proxy, else None.
        info: Provenance: training-data summary, test metrics, settings, package versions.
        held_out: After :func:`archgym.proxy.train_proxy`, the held-out rows with a
            ``<target>_predicted`` column per target (not saved); else None.
    """

    def __init__(
        self,
        *,
        env: str,
        design_space: DesignSpace,
        encoding: FeatureEncoding,
        targets: Sequence[TargetSpec],
        regressor: Any,
        model_kind: str,
        base: Mapping[str, Any] | None = None,
        info: Mapping[str, Any] | None = None,
        predictor: PlainModel | None = None,
    ) -> None:
        self.env = env
        self.design_space = design_space
        self.encoding = encoding
        self.targets = tuple(targets)
        self.regressor = regressor
        # Trained and loaded proxies predict through the same plain form, so their predictions are identical.
        self.predictor: PlainModel = predictor if predictor is not None else to_plain(regressor)
        self.model_kind = model_kind
        self.base = dict(base) if base else None
        self.info: dict[str, Any] = dict(info or {})
        self.held_out: pd.DataFrame | None = None
        self._base_model: CostModel | None = None

    @property
    def target_names(self) -> tuple[str, ...]:
        """Names of the learned metrics, in the regressor's output order."""
        return tuple(t.name for t in self.targets)

    @property
    def workloads(self) -> tuple[str, ...]:
        """The workloads the proxy can predict."""
        return self.encoding.workloads

    def base_model(self) -> CostModel | None:
        """The base backend of a residual proxy (built on first use), or None."""
        if self.base is None:
            return None
        if self._base_model is None:
            self._base_model = make_backend(self.base["backend"], problem=self.env, **self.base.get("options", {}))
        return self._base_model

    def close(self) -> None:
        """Close the base backend, if one was built."""
        if self._base_model is not None:
            self._base_model.close()
            self._base_model = None

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, designs: Any, workload: Any) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
        """Predict every target for a batch of designs on one workload.

        Args:
            designs: An ``(n, knobs)`` index array, design mappings, or a DataFrame of knob columns.
            workload: A workload the proxy was trained on.

        Returns:
            ``(predictions, feasible, reasons)``: target name to an ``(n,)``
            array; whether each prediction is usable (False where the base
            backend found the design infeasible or a prediction is not
            finite); and why not ("" where usable).

        Raises:
            WorkloadError: the proxy was not trained on ``workload``.
            InvalidDesignError: a design is outside the space.
        """
        code = self.encoding.workload_index(workload)
        knobs = knob_matrix(self.design_space, designs)
        return self._predict_knobs(knobs, np.full(len(knobs), code), [workload] * len(knobs))

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with a ``<target>_predicted`` column per target (rows of any trained workload).

        Raises:
            DatasetError: a knob or the ``workload`` column is missing.
            WorkloadError: a row's workload is not one the proxy was trained on.
        """
        if WORKLOAD_COLUMN not in frame.columns:
            raise DatasetError("the data has no 'workload' column")
        knobs = knob_matrix(self.design_space, frame)
        labels = frame[WORKLOAD_COLUMN].astype(str)
        codes = np.array([self.encoding.workload_index(w) for w in labels])
        sources = frame["workload_source"].astype(str).tolist() if "workload_source" in frame else list(labels)
        predictions, _, _ = self._predict_knobs(knobs, codes, sources)
        out = frame.copy()
        for name, values in predictions.items():
            out[f"{name}_predicted"] = values
        return out

    def predict_features(self, features: np.ndarray, base_values: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Metric values predicted from an encoded feature matrix.

        Args:
            features: Rows encoded by :attr:`encoding`.
            base_values: The base backend's metrics of the same rows
                (:attr:`FeatureEncoding.base_metrics` order), for a residual proxy.

        Returns:
            Target name to an ``(n,)`` array.
        """
        learned = self._regress(features)
        return self._metric_values(learned, base_values)

    def _predict_knobs(
        self, knobs: np.ndarray, codes: np.ndarray, workloads: Sequence[Any]
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
        n = len(knobs)
        feasible = np.ones(n, dtype=bool)
        reasons = [""] * n
        base_values = None
        base_model = self.base_model()
        if base_model is not None:
            base_values, feasible, reasons = base_metric_values(
                base_model, self.design_space, self.encoding.base_metrics, knobs, workloads
            )
        features = self.encoding.features(knobs, codes, base_values)
        usable = np.isfinite(features).all(axis=1) & feasible
        learned = np.full((n, len(self.targets)), np.nan)
        if usable.any():
            learned[usable] = self._regress(features[usable])
        predictions = self._metric_values(learned, base_values)
        for i in np.flatnonzero(~usable | ~np.all([np.isfinite(v) for v in predictions.values()], axis=0)):
            if feasible[i]:
                feasible[i] = False
                reasons[i] = "the proxy's prediction is not finite"
        return predictions, feasible, reasons

    def _regress(self, features: np.ndarray) -> np.ndarray:
        """The regressor's ``(n, targets)`` outputs for a feature matrix."""
        return self.predictor.predict(features).reshape(len(features), len(self.targets))

    def _metric_values(self, learned: np.ndarray, base_values: np.ndarray | None) -> dict[str, np.ndarray]:
        """Metric values of regressor outputs (one column per target)."""
        predictions: dict[str, np.ndarray] = {}
        for j, target in enumerate(self.targets):
            base = None
            if target.transform == "log_ratio" and base_values is not None:
                base = base_values[:, self.encoding.base_metrics.index(target.name)]
            predictions[target.name] = target.metric_values(learned[:, j], base)
        return predictions

    # -- persistence --------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """What ``proxy.json`` holds."""
        return {
            "format": PROXY_FORMAT,
            "format_version": FORMAT_VERSION,
            "env": self.env,
            "design_space": {
                "name": self.design_space.name,
                "fingerprint": self.design_space.fingerprint(),
                "knobs": self.design_space.describe(),
            },
            "model": self.model_kind,
            "targets": [{"name": t.name, "transform": t.transform} for t in self.targets],
            "encoding": self.encoding.to_dict(),
            "base": self.base,
            **self.info,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the proxy to directory ``path`` in the plain format (created; existing proxy files are replaced).

        A pickled model left by an earlier version in the directory is removed,
        since the new ``proxy.json`` no longer refers to it.

        Raises:
            ProxyError: ``path`` is a file.
        """
        directory = Path(path)
        if directory.exists() and not directory.is_dir():
            raise ProxyError(f"cannot save the proxy in {directory}: it is a file; give a directory")
        directory.mkdir(parents=True, exist_ok=True)
        # Model first, metadata last: a directory with proxy.json holds a complete proxy.
        temporary = directory / f".{MODEL_FILE}.tmp"
        save_plain(self.predictor, temporary)
        os.replace(temporary, directory / MODEL_FILE)
        temporary = directory / f".{METADATA_FILE}.tmp"
        temporary.write_text(json.dumps(self.metadata(), indent=2, default=_json_default) + "\n")
        os.replace(temporary, directory / METADATA_FILE)
        (directory / PICKLED_MODEL_FILE).unlink(missing_ok=True)
        return directory

    @classmethod
    def load(cls, path: str | os.PathLike[str], design_space: DesignSpace | None = None, *,
             trust: bool = False) -> Proxy:
        """Load a saved proxy.

        Args:
            path: The proxy directory (or its ``proxy.json``).
            design_space: The space the proxy must match; default: its problem's current space.
            trust: Also load a proxy of the earlier, pickled format, whose
                ``model.joblib`` can run arbitrary code: only for proxies from a
                source you trust. Proxies in the plain format never need it.

        Raises:
            ProxyError: ``path`` is not a proxy directory, a file is corrupt or
                has a field of the wrong type, the proxy was trained on a
                different design space, or it is pickled and ``trust`` is False.
        """
        directory = _proxy_directory(path)
        metadata = read_proxy_metadata(directory)
        env = metadata["env"]
        targets = [TargetSpec(t["name"], t["transform"]) for t in metadata["targets"]]
        space_info = metadata["design_space"]
        space = design_space if design_space is not None else _space_named(env, space_info["name"])
        if space_info["fingerprint"] != space.fingerprint():
            raise ProxyError(_space_mismatch(directory, space_info, space))
        encoding_info = metadata["encoding"]
        encoding = FeatureEncoding(space, tuple(encoding_info["workloads"]), tuple(encoding_info.get("base_metrics", ())))
        base = metadata.get("base")
        base_options = (base or {}).get("options") or {}
        programs = sorted(set(base_options) & _PROGRAM_OPTIONS)
        if programs and not trust:
            raise ProxyError(
                f"the proxy in {directory} names a program its base backend runs (option "
                f"{programs[0]}={base_options[programs[0]]!r}), so it was not loaded; load it with --trust / "
                "trust=True only if you trust its source"
            )
        regressor = None
        if metadata["format_version"] == PICKLED_FORMAT_VERSION:
            if not trust:
                raise ProxyError(untrusted_message(directory))
            regressor = _load_pickled(directory, [t.name for t in targets])
            predictor = to_plain(regressor)
        else:
            predictor = load_plain(_model_file(directory))
        if predictor.n_outputs != len(targets) or predictor.n_features != len(encoding.feature_names):
            raise ProxyError(
                f"{directory / MODEL_FILE} does not fit {METADATA_FILE}: the regressor has {predictor.n_features} "
                f"inputs and {predictor.n_outputs} outputs, the proxy {len(encoding.feature_names)} features and "
                f"{len(targets)} targets"
            )
        if regressor is not None:
            _warn_on_version_drift(directory, metadata.get("versions", {}))
        info = {k: v for k, v in metadata.items() if k not in _RESERVED}
        return cls(
            env=env, design_space=space, encoding=encoding, targets=targets, regressor=regressor,
            model_kind=metadata["model"], base=base, info=info, predictor=predictor,
        )


_PROGRAM_OPTIONS = {"binary"}
"""Base-backend options that name a program to run: from a proxy file, they need the same trust as a pickle."""

_RESERVED = {"format", "format_version", "env", "design_space", "model", "targets", "encoding", "base"}
"""The ``proxy.json`` fields that describe the model; the others are :attr:`Proxy.info`."""


def load_proxy(path: str | os.PathLike[str], design_space: DesignSpace | None = None, *,
               trust: bool = False) -> Proxy:
    """Load a saved proxy: :meth:`Proxy.load`. ``trust=True`` also loads the earlier pickled format."""
    return Proxy.load(path, design_space, trust=trust)


def untrusted_message(directory: Path) -> str:
    """Why a pickled proxy was not loaded, and how to load or convert it (one line)."""
    return (
        f"the proxy in {directory} is a pickle ({PICKLED_MODEL_FILE}) saved by an earlier version, which can run "
        "code when loaded, so it was not loaded; if you trust its source, convert it with "
        f"`archgym proxy convert {directory} --trust` (or load it with --trust / trust=True)"
    )


def convert_proxy(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Rewrite a proxy in the plain format, loading it with trust: only for proxies from a source you trust.

    Args:
        path: The proxy directory, of either format.
        out: Directory to write the converted proxy to; default: in place
            (``model.npz`` replaces ``model.joblib``).

    Returns:
        The directory of the converted proxy.

    Raises:
        ProxyError: ``path`` is not a proxy, or ``out`` is a file.
    """
    proxy = Proxy.load(path, trust=True)
    try:
        return proxy.save(_proxy_directory(path) if out is None else out)
    finally:
        proxy.close()


def check_save_path(path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Check, before training, that a proxy can be saved in directory ``path``.

    ``path`` may be absent, an empty directory, or a proxy directory (whose
    proxy is replaced). A directory holding other files is refused unless
    ``force`` is True, so that a mistyped path does not scatter proxy files
    among unrelated ones; a file is always refused.

    Raises:
        ProxyError: ``path`` is a file, or a non-empty directory that is not a proxy and ``force`` is False.
    """
    directory = Path(path)
    if not directory.exists():
        return
    if not directory.is_dir():
        raise ProxyError(f"--out {directory} is a file; give a directory to save the proxy in")
    if force or (directory / METADATA_FILE).is_file() or not any(directory.iterdir()):
        return
    raise ProxyError(
        f"--out {directory} is a directory that holds other files and no proxy; give a new or empty directory, "
        "or --force to save the proxy among them"
    )


def read_proxy_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A proxy's ``proxy.json``, with every field the package reads checked for its type; the model is not read.

    Args:
        path: The proxy directory (or its ``proxy.json``).

    Raises:
        ProxyError: no proxy there, the file is corrupt, or a field is missing
            or of the wrong type (the message names the field and the type expected).
    """
    directory = _proxy_directory(path)
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise ProxyError(f"{directory} is not a proxy: it has no {METADATA_FILE}")
    try:
        metadata = json.loads(metadata_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProxyError(f"{metadata_path} is corrupt: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != PROXY_FORMAT:
        raise ProxyError(f"{metadata_path} is not a proxy description (no format {PROXY_FORMAT!r})")
    version = metadata.get("format_version")
    if version not in (FORMAT_VERSION, PICKLED_FORMAT_VERSION) or isinstance(version, bool):
        raise ProxyError(
            f"{directory} holds a proxy of format version {version!r}; this version of ArchGym reads versions "
            f"{PICKLED_FORMAT_VERSION} and {FORMAT_VERSION}: retrain it with `archgym proxy train`"
        )
    _check_fields(metadata, metadata_path)
    return metadata


_MISSING = object()
_STRING = (str,)
_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", dict: "an object", list: "a list",
               type(None): "null"}

_METRIC_FIELDS = {"target": _STRING, "workload": _STRING, "n": _NUMBER, "rmse": _OPTIONAL_NUMBER,
                  "nrmse_pct": _OPTIONAL_NUMBER, "mape_pct": _OPTIONAL_NUMBER, "mdape_pct": _OPTIONAL_NUMBER,
                  "p90_ape_pct": _OPTIONAL_NUMBER, "r2": _OPTIONAL_NUMBER, "spearman": _OPTIONAL_NUMBER}
"""The fields of one ``test_metrics`` entry (see :func:`archgym.proxy.prediction_metrics`)."""


def _check_fields(metadata: Mapping[str, Any], metadata_path: Path) -> None:
    """Raise a :class:`ProxyError` naming the first field of ``proxy.json`` that is missing or of the wrong type."""

    def check(value: Any, field: str, types: tuple[type, ...], required: bool = True) -> Any:
        if value is _MISSING:
            if required:
                raise ProxyError(f"{metadata_path} is incomplete: field {field!r} is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(_TYPE_NAMES[t] for t in types if not (t is int and float in types))
            raise ProxyError(
                f"{metadata_path}: field {field!r} is {_json_type(value)}; expected {expected}"
            )
        return value

    def strings(value: Any, field: str, required: bool = True) -> None:
        for index, item in enumerate(check(value, field, (list,), required) or []):
            check(item, f"{field}[{index}]", _STRING)

    get = metadata.get
    check(get("env", _MISSING), "env", _STRING)
    check(get("model", _MISSING), "model", _STRING)
    space = check(get("design_space", _MISSING), "design_space", (dict,))
    check(space.get("name", _MISSING), "design_space.name", _STRING)
    check(space.get("fingerprint", _MISSING), "design_space.fingerprint", _STRING)
    for index, knob in enumerate(check(space.get("knobs", _MISSING), "design_space.knobs", (list,), False) or []):
        check(knob, f"design_space.knobs[{index}]", (dict,))
    targets = check(get("targets", _MISSING), "targets", (list,))
    if not targets:
        raise ProxyError(f"{metadata_path}: field 'targets' is empty; expected at least one target")
    for index, target in enumerate(targets):
        check(target, f"targets[{index}]", (dict,))
        check(target.get("name", _MISSING), f"targets[{index}].name", _STRING)
        transform = check(target.get("transform", _MISSING), f"targets[{index}].transform", _STRING)
        if transform not in TRANSFORMS:
            raise ProxyError(f"{metadata_path}: field 'targets[{index}].transform' is {transform!r}; expected one "
                             f"of {', '.join(TRANSFORMS)}")
    encoding = check(get("encoding", _MISSING), "encoding", (dict,))
    strings(encoding.get("workloads", _MISSING), "encoding.workloads")
    if not encoding["workloads"]:
        raise ProxyError(f"{metadata_path}: field 'encoding.workloads' is empty; expected at least one workload")
    strings(encoding.get("base_metrics", _MISSING), "encoding.base_metrics", required=False)
    strings(encoding.get("feature_names", _MISSING), "encoding.feature_names", required=False)
    base = check(get("base", _MISSING), "base", (dict, type(None)), False)
    if base is not None:
        check(base.get("backend", _MISSING), "base.backend", _STRING)
        check(base.get("options", _MISSING), "base.options", (dict,), False)
    check(get("created", _MISSING), "created", _STRING, False)
    for package, version in (check(get("versions", _MISSING), "versions", (dict,), False) or {}).items():
        check(version, f"versions.{package}", _STRING)
    check(get("settings", _MISSING), "settings", (dict,), False)
    check(get("test_rows", _MISSING), "test_rows", (int,), False)
    check(get("fit_seconds", _MISSING), "fit_seconds", _NUMBER, False)
    training = check(get("training", _MISSING), "training", (dict,), False) or {}
    check(training.get("source", _MISSING), "training.source", _STRING, False)
    for key in ("rows", "designs", "train_rows", "train_designs"):
        check(training.get(key, _MISSING), f"training.{key}", (int,), False)
    for name, summary in (check(training.get("targets", _MISSING), "training.targets", (dict,), False) or {}).items():
        check(summary, f"training.targets.{name}", (dict,))
        for key, value in summary.items():
            check(value, f"training.targets.{name}.{key}", _NUMBER)
    for index, row in enumerate(check(get("test_metrics", _MISSING), "test_metrics", (list,), False) or []):
        check(row, f"test_metrics[{index}]", (dict,))
        for key, types in _METRIC_FIELDS.items():
            check(row.get(key, _MISSING), f"test_metrics[{index}].{key}", types, key in ("target", "workload", "n"))



def _json_type(value: Any) -> str:
    """How JSON names the type of a parsed value."""
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    for python_type, name in ((dict, "an object"), (list, "a list"), (str, "a string"), (int, "a number"),
                              (float, "a number"), (type(None), "null")):
        if isinstance(value, python_type):
            shown = json.dumps(value)
            return name if len(shown) > 40 or python_type in (dict, list, type(None)) else f"{name} ({shown})"
    return type(value).__name__


def _proxy_directory(path: str | os.PathLike[str]) -> Path:
    """The proxy directory named by ``path`` (itself, or the directory of a ``proxy.json``)."""
    directory = Path(path)
    if directory.is_file() and directory.name == METADATA_FILE:
        directory = directory.parent
    if not directory.is_dir():
        raise ProxyError(
            f"{directory} is not a proxy directory: it does not exist or is a file "
            f"(a proxy is a directory with {METADATA_FILE} and {MODEL_FILE}, written by `archgym proxy train`)"
        )
    return directory


def _model_file(directory: Path) -> Path:
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ProxyError(f"{directory} is an incomplete proxy: {MODEL_FILE} is missing")
    return model_path


def _load_pickled(directory: Path, target_names: list[str]) -> Any:
    """The regressor pickled in a proxy of the earlier format (this runs code from the file: trusted proxies only)."""
    import joblib

    model_path = directory / PICKLED_MODEL_FILE
    if not model_path.is_file():
        raise ProxyError(f"{directory} is an incomplete proxy: {PICKLED_MODEL_FILE} is missing")
    try:
        saved = joblib.load(model_path)
    except Exception as error:  # noqa: BLE001 - unpickling reports corruption with many exception types
        raise ProxyError(f"{model_path} is corrupt or unreadable: {type(error).__name__}: {error}") from None
    if not (isinstance(saved, dict) and saved.get("targets") == target_names
            and hasattr(saved.get("regressor"), "predict")):
        raise ProxyError(f"{model_path} does not hold a regressor of the targets {', '.join(target_names)}")
    return saved["regressor"]


def package_versions() -> dict[str, str]:
    """Versions of the packages a saved proxy's predictions depend on, as recorded in ``proxy.json``."""
    versions = {"archgym": archgym.__version__, "python": platform.python_version()}
    for package in ("numpy", "pandas", "scikit-learn", "scipy", "joblib", "xgboost"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _space_mismatch(directory: Path, saved: Mapping[str, Any], space: DesignSpace) -> str:
    saved_knobs = {k["name"]: k for k in saved.get("knobs", []) if isinstance(k, dict) and "name" in k}
    current = {k["name"]: k for k in space.describe()}
    differences = [
        f"{name} ({'only in the proxy' if name not in current else 'only in the space' if name not in saved_knobs else 'values differ'})"
        for name in sorted(set(saved_knobs) | set(current))
        if saved_knobs.get(name, {}).get("values") != current.get(name, {}).get("values")
        or name not in saved_knobs or name not in current
    ]
    detail = f": {', '.join(differences)}" if differences else ""
    return (
        f"the proxy in {directory} was trained on a different design space (fingerprint "
        f"{saved.get('fingerprint')!r}, this space {space.fingerprint()!r}){detail}; retrain it on data of "
        "this space"
    )


def _warn_on_version_drift(directory: Path, saved: Mapping[str, Any]) -> None:
    current = package_versions()
    for package in ("scikit-learn", "xgboost"):
        if package in saved and package in current and saved[package] != current[package]:
            _log.warning(
                "proxy %s was saved with %s %s; this environment has %s: predictions may differ",
                directory, package, saved[package], current[package],
            )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _space_named(env: str, name: Any) -> DesignSpace:
    """The problem's design space of that name (its own or a variant); its own space if none is."""
    for space in design_spaces_of(env):
        if space.name == name:
            return space
    return design_space_of(env)
