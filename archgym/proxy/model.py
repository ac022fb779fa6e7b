"""A trained proxy: its targets, predictions, and the directory it is saved in.

A saved proxy is a directory holding ``proxy.json`` (format, problem,
design-space fingerprint, feature encoding, targets and their transforms,
base backend, training-data summary, test metrics, package versions) and
``model.joblib`` (the fitted regressors, a pickle of scikit-learn objects
only). Loading checks the format and the design-space fingerprint.
``model.joblib`` is a pickle: load only proxies you trust.
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
from archgym.proxy.regressors import regressor_predict
from archgym.space import DesignSpace

__all__ = [
    "FORMAT_VERSION",
    "METADATA_FILE",
    "MODEL_FILE",
    "PROXY_FORMAT",
    "Proxy",
    "TargetSpec",
    "package_versions",
]

_log = logging.getLogger(__name__)

PROXY_FORMAT = "archgym-proxy"
FORMAT_VERSION = 1
METADATA_FILE = "proxy.json"
MODEL_FILE = "model.joblib"


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
        regressor: The fitted scikit-learn regressor; ``predict`` gives one column per target.
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
    ) -> None:
        self.env = env
        self.design_space = design_space
        self.encoding = encoding
        self.targets = tuple(targets)
        self.regressor = regressor
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
        learned = regressor_predict(self.regressor, features, len(self.targets))
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
            learned[usable] = regressor_predict(self.regressor, features[usable], len(self.targets))
        predictions = self._metric_values(learned, base_values)
        for i in np.flatnonzero(~usable | ~np.all([np.isfinite(v) for v in predictions.values()], axis=0)):
            if feasible[i]:
                feasible[i] = False
                reasons[i] = "the proxy's prediction is not finite"
        return predictions, feasible, reasons

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
        """Write the proxy to directory ``path`` (created; existing proxy files are replaced)."""
        import joblib

        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        # Model first, metadata last: a directory with proxy.json holds a complete proxy.
        for name, payload in ((MODEL_FILE, None), (METADATA_FILE, self.metadata())):
            temporary = directory / f".{name}.tmp"
            if payload is None:
                joblib.dump({"targets": list(self.target_names), "regressor": self.regressor}, temporary)
            else:
                temporary.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
            os.replace(temporary, directory / name)
        return directory

    @classmethod
    def load(cls, path: str | os.PathLike[str], design_space: DesignSpace | None = None) -> Proxy:
        """Load a saved proxy.

        Args:
            path: The proxy directory (or its ``proxy.json``).
            design_space: The space the proxy must match; default: its problem's current space.

        Raises:
            ProxyError: ``path`` is not a proxy directory, a file is corrupt, or
                the proxy was trained on a different design space.
        """
        import joblib

        directory = Path(path)
        if directory.is_file() and directory.name == METADATA_FILE:
            directory = directory.parent
        if not directory.is_dir():
            raise ProxyError(
                f"{directory} is not a proxy directory: it does not exist or is a file "
                f"(a proxy is a directory with {METADATA_FILE} and {MODEL_FILE}, written by "
                "`archgym proxy train`)"
            )
        metadata_path = directory / METADATA_FILE
        if not metadata_path.is_file():
            raise ProxyError(f"{directory} is not a proxy: it has no {METADATA_FILE}")
        try:
            metadata = json.loads(metadata_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProxyError(f"{metadata_path} is corrupt: {error}") from None
        if not isinstance(metadata, dict) or metadata.get("format") != PROXY_FORMAT:
            raise ProxyError(f"{metadata_path} is not a proxy description (no format {PROXY_FORMAT!r})")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ProxyError(
                f"{directory} holds a proxy of format version {metadata.get('format_version')!r}; this "
                f"version of ArchGym reads version {FORMAT_VERSION}: retrain it with `archgym proxy train`"
            )
        try:
            env = str(metadata["env"])
            space_info = metadata["design_space"]
            encoding_info = metadata["encoding"]
            targets = [TargetSpec(str(t["name"]), str(t["transform"])) for t in metadata["targets"]]
            model_kind = str(metadata["model"])
        except (KeyError, TypeError) as error:
            raise ProxyError(f"{metadata_path} is incomplete: missing {error}") from None
        space = design_space if design_space is not None else _space_named(env, space_info.get("name"))
        if space_info.get("fingerprint") != space.fingerprint():
            raise ProxyError(_space_mismatch(directory, space_info, space))
        encoding = FeatureEncoding(
            space, tuple(encoding_info["workloads"]), tuple(encoding_info.get("base_metrics", ()))
        )
        model_path = directory / MODEL_FILE
        if not model_path.is_file():
            raise ProxyError(f"{directory} is an incomplete proxy: {MODEL_FILE} is missing")
        try:
            saved = joblib.load(model_path)
        except Exception as error:  # noqa: BLE001 - unpickling reports corruption with many exception types
            raise ProxyError(f"{model_path} is corrupt or unreadable: {type(error).__name__}: {error}") from None
        names = [t.name for t in targets]
        if not (isinstance(saved, dict) and saved.get("targets") == names and hasattr(saved.get("regressor"), "predict")):
            raise ProxyError(f"{model_path} does not hold a regressor of the targets {', '.join(names)}")
        _warn_on_version_drift(directory, metadata.get("versions", {}))
        reserved = {"format", "format_version", "env", "design_space", "model", "targets", "encoding", "base"}
        info = {k: v for k, v in metadata.items() if k not in reserved}
        return cls(
            env=env, design_space=space, encoding=encoding, targets=targets, regressor=saved["regressor"],
            model_kind=model_kind, base=metadata.get("base"), info=info,
        )


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
