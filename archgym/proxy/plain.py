"""Fitted regressors as plain arrays: saved without pickle, loaded without running code, predicting in NumPy.

A proxy's regressor is saved as one ``.npz`` file of numeric arrays plus a
JSON description of how they fit together (stored in the same file as a
string). Loading reads arrays with ``allow_pickle=False``, checks their types,
shapes and indices, and never imports or calls anything named by the file.

Each family of regressor a proxy trains (:data:`archgym.proxy.MODEL_KINDS`)
has a plain counterpart whose predictions equal scikit-learn's bit for bit
(same operations in the same order, on inputs of the same dtype):

- :class:`TreeEnsemble`: extra trees and random forests (the mean of the
  trees), gradient boosting and histogram gradient boosting (a start value
  plus the scaled sum of the trees). Nodes of every tree are one set of
  arrays, walked for all rows and trees at once;
- :class:`Perceptron`: the standard scaler and multi-layer perceptron pipeline;
- :class:`PerTarget`: one single-output model per target (the boosting families);
- :class:`XGBoostBooster`: an XGBoost model in XGBoost's own binary format,
  read by XGBoost (which does not unpickle).
"""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from archgym.errors import ProxyError

__all__ = [
    "PLAIN_FORMAT",
    "PerTarget",
    "Perceptron",
    "PlainModel",
    "TreeEnsemble",
    "XGBoostBooster",
    "load_plain",
    "save_plain",
    "to_plain",
]

PLAIN_FORMAT = "archgym-plain-regressor"
"""The ``format`` of the JSON description inside a saved model file."""

_STRUCTURE_KEY = "structure"
_FORMAT_VERSION = 1


class PlainModel(Protocol):
    """A fitted regressor held as arrays."""

    n_features: int
    n_outputs: int

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(n, n_outputs)`` predictions of an ``(n, n_features)`` feature matrix."""
        ...

    def parts(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The JSON description and the arrays (named under ``prefix``) that save this model."""
        ...


# -- tree ensembles -------------------------------------------------------------------------------


class TreeEnsemble:
    """Decision trees whose leaf values are averaged (forests) or added to a start value (boosting).

    Nodes of all trees are concatenated; child indices are absolute and always
    greater than their parent's, so every walk ends at a leaf.

    Args:
        roots: ``(trees,)`` index of each tree's root node.
        left: ``(nodes,)`` left child of each node; -1 at leaves.
        right: ``(nodes,)`` right child of each node; -1 at leaves.
        feature: ``(nodes,)`` feature a split compares (0 at leaves).
        threshold: ``(nodes,)`` a row goes left when its feature is ``<=`` this.
        missing_left: ``(nodes,)`` whether a missing (NaN) feature goes left.
        value: ``(nodes, outputs)`` leaf values.
        n_features: Features the trees were fitted on.
        input_dtype: ``"float32"`` (scikit-learn's decision trees compare
            float32 inputs) or ``"float64"`` (histogram gradient boosting).
        combine: ``"mean"`` of the trees, or ``"sum"``: ``start + scale * tree``
            added tree by tree.
        start: ``(outputs,)`` start value of a sum.
        scale: Factor of every tree's value in a sum (the learning rate).
    """

    kind = "tree_ensemble"

    def __init__(
        self, *, roots: np.ndarray, left: np.ndarray, right: np.ndarray, feature: np.ndarray,
        threshold: np.ndarray, missing_left: np.ndarray, value: np.ndarray, n_features: int,
        input_dtype: str, combine: str, start: np.ndarray | None = None, scale: float = 1.0,
    ) -> None:
        self.roots = roots
        self.left = left
        self.right = right
        self.feature = feature
        self.threshold = threshold
        self.missing_left = missing_left
        self.value = value
        self.n_features = n_features
        self.n_outputs = value.shape[1]
        self.input_dtype = input_dtype
        self.combine = combine
        self.start = start if start is not None else np.zeros(self.n_outputs)
        self.scale = scale
        self._leaf = left < 0
        # Children as one array, right then left of each node (indexed by 2 * node + goes_left); a leaf's are itself.
        itself = np.arange(len(left))
        self._children = np.stack([np.where(self._leaf, itself, right), np.where(self._leaf, itself, left)],
                                  axis=1).ravel()

    def leaves(self, features: np.ndarray) -> np.ndarray:
        """``(n, trees)`` index of the leaf each row reaches in each tree."""
        rows = np.ascontiguousarray(features, dtype=self.input_dtype)
        n, trees = len(rows), len(self.roots)
        values = rows.ravel()
        row_start = np.repeat(np.arange(n) * rows.shape[1], trees)
        nodes = np.tile(self.roots, n)
        has_nan = bool(np.isnan(values).any())
        walking = np.flatnonzero(~self._leaf[nodes])
        for step in itertools.count(1):
            if not walking.size:
                break
            current = nodes[walking]
            x = values[row_start[walking] + self.feature[current]]
            # As scikit-learn: float32 inputs are compared with float64 thresholds, NaN follows the node's choice.
            go_left = x <= self.threshold[current]
            if has_nan:
                go_left |= np.isnan(x) & self.missing_left[current]
            following = self._children[2 * current + go_left]
            nodes[walking] = following
            # Leaves lead to themselves, so finished walks are dropped only every other step (cheaper).
            if step % 2 == 0:
                walking = walking[~self._leaf[following]]
        return nodes.reshape(n, trees)

    def predict(self, features: np.ndarray) -> np.ndarray:
        leaf_values = self.value[self.leaves(features)]  # (n, trees, outputs)
        n = leaf_values.shape[0]
        if self.combine == "mean":
            # A running sum in tree order, as scikit-learn accumulates it, then one division.
            total = np.cumsum(leaf_values, axis=1)[:, -1, :] if leaf_values.shape[1] else np.zeros((n, self.n_outputs))
            return total / len(self.roots)
        terms = np.concatenate([np.broadcast_to(self.start, (n, 1, self.n_outputs)), self.scale * leaf_values], axis=1)
        return np.cumsum(terms, axis=1)[:, -1, :]

    def parts(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        description = {"kind": self.kind, "n_features": self.n_features, "input_dtype": self.input_dtype,
                       "combine": self.combine, "scale": self.scale}
        arrays = {"roots": self.roots, "left": self.left, "right": self.right, "feature": self.feature,
                  "threshold": self.threshold, "missing_left": self.missing_left, "value": self.value,
                  "start": self.start}
        return description, {f"{prefix}{name}": array for name, array in arrays.items()}

    @classmethod
    def from_parts(cls, description: Mapping[str, Any], arrays: _Arrays, prefix: str) -> TreeEnsemble:
        n_features = _integer(description, "n_features", prefix)
        input_dtype = _choice(description, "input_dtype", ("float32", "float64"), prefix)
        combine = _choice(description, "combine", ("mean", "sum"), prefix)
        scale = description.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise ProxyError(f"{arrays.path}: {prefix}scale is {type(scale).__name__}; expected a number")
        value = arrays.get(f"{prefix}value", "f", 2)
        nodes = len(value)
        left = arrays.get(f"{prefix}left", "i", 1, nodes)
        right = arrays.get(f"{prefix}right", "i", 1, nodes)
        feature = arrays.get(f"{prefix}feature", "i", 1, nodes)
        roots = arrays.get(f"{prefix}roots", "i", 1)
        split = left >= 0
        # Children after their parent, within the nodes: walks end, and every index is in range.
        order = np.arange(nodes)
        if ((right >= 0) != split).any() or (left[split] <= order[split]).any() or (right[split] <= order[split]).any() \
                or (left >= nodes).any() or (right >= nodes).any() or ((roots < 0) | (roots >= nodes)).any() \
                or ((feature[split] < 0) | (feature[split] >= n_features)).any():
            raise ProxyError(f"{arrays.path}: the trees of {prefix or 'the model'} are malformed (node or feature "
                             "index out of range)")
        return cls(
            roots=roots.astype(np.intp), left=left.astype(np.intp), right=right.astype(np.intp),
            feature=np.where(split, feature, 0).astype(np.intp),
            threshold=arrays.get(f"{prefix}threshold", "f", 1, nodes).astype(np.float64),
            missing_left=arrays.get(f"{prefix}missing_left", "b", 1, nodes).astype(bool),
            value=value.astype(np.float64), n_features=n_features, input_dtype=input_dtype, combine=combine,
            start=arrays.get(f"{prefix}start", "f", 1, value.shape[1]).astype(np.float64), scale=float(scale),
        )


def _sklearn_trees(trees: list[Any], n_features: int, input_dtype: str, combine: str, start: np.ndarray | None = None,
                   scale: float = 1.0) -> TreeEnsemble:
    """A :class:`TreeEnsemble` of fitted scikit-learn decision trees."""
    roots, left, right, feature, threshold, missing, value = [], [], [], [], [], [], []
    offset = 0
    for tree in trees:
        structure = tree.tree_
        split = structure.children_left >= 0
        roots.append(offset)
        left.append(np.where(split, structure.children_left + offset, -1))
        right.append(np.where(split, structure.children_right + offset, -1))
        feature.append(np.where(split, structure.feature, 0))
        threshold.append(structure.threshold)
        missing.append(np.asarray(getattr(structure, "missing_go_to_left", np.zeros(len(split))), dtype=bool))
        value.append(structure.value[:, :, 0])
        offset += structure.node_count
    return TreeEnsemble(
        roots=np.array(roots, dtype=np.intp), left=np.concatenate(left).astype(np.intp),
        right=np.concatenate(right).astype(np.intp), feature=np.concatenate(feature).astype(np.intp),
        threshold=np.concatenate(threshold).astype(np.float64), missing_left=np.concatenate(missing),
        value=np.concatenate(value).astype(np.float64), n_features=n_features, input_dtype=input_dtype,
        combine=combine, start=start, scale=scale,
    )


def _forest(forest: Any) -> TreeEnsemble:
    return _sklearn_trees(list(forest.estimators_), int(forest.n_features_in_), "float32", "mean")


def _gradient_boosting(model: Any) -> TreeEnsemble:
    if model.loss not in ("squared_error", "absolute_error", "huber", "quantile"):
        raise ProxyError(f"gradient boosting with loss {model.loss!r} has no plain form; use squared_error")
    if isinstance(model.init_, str):
        start = np.zeros(1)
    elif hasattr(model.init_, "constant_"):
        start = np.asarray(model.init_.constant_, dtype=np.float64).reshape(1)
    else:
        raise ProxyError(f"gradient boosting started from {type(model.init_).__name__} has no plain form")
    return _sklearn_trees(list(model.estimators_[:, 0]), int(model.n_features_in_), "float32", "sum", start,
                          float(model.learning_rate))


def _hist_gradient_boosting(model: Any) -> TreeEnsemble:
    roots, left, right, feature, threshold, missing, value = [], [], [], [], [], [], []
    offset = 0
    for iteration in model._predictors:  # the fitted trees have no public accessor
        (predictor,) = iteration
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ProxyError("histogram gradient boosting with categorical splits has no plain form")
        split = nodes["is_leaf"] == 0
        roots.append(offset)
        left.append(np.where(split, nodes["left"].astype(np.int64) + offset, -1))
        right.append(np.where(split, nodes["right"].astype(np.int64) + offset, -1))
        feature.append(np.where(split, nodes["feature_idx"], 0))
        threshold.append(nodes["num_threshold"])
        missing.append(nodes["missing_go_to_left"].astype(bool))
        value.append(nodes["value"][:, None])
        offset += len(nodes)
    baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(1)
    return TreeEnsemble(
        roots=np.array(roots, dtype=np.intp), left=np.concatenate(left).astype(np.intp),
        right=np.concatenate(right).astype(np.intp), feature=np.concatenate(feature).astype(np.intp),
        threshold=np.concatenate(threshold).astype(np.float64), missing_left=np.concatenate(missing),
        value=np.concatenate(value).astype(np.float64), n_features=int(model.n_features_in_),
        input_dtype="float64", combine="sum", start=baseline, scale=1.0,
    )


# -- the perceptron -------------------------------------------------------------------------------

_ACTIVATIONS = ("identity", "relu", "tanh", "logistic")


class Perceptron:
    """A standard scaler followed by a multi-layer perceptron, as scikit-learn computes them.

    Args:
        mean: ``(features,)`` subtracted from the inputs (zeros: nothing is).
        scale: ``(features,)`` the centred inputs are divided by.
        weights: One ``(inputs, outputs)`` matrix per layer.
        biases: One ``(outputs,)`` vector per layer.
        activation: Of the hidden layers: identity, relu, tanh or logistic.
        output_activation: Of the last layer.
    """

    kind = "perceptron"

    def __init__(self, *, mean: np.ndarray, scale: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray],
                 activation: str, output_activation: str) -> None:
        self.mean = mean
        self.scale = scale
        self.weights = weights
        self.biases = biases
        self.activation = activation
        self.output_activation = output_activation
        self.n_features = len(mean)
        self.n_outputs = weights[-1].shape[1]

    def predict(self, features: np.ndarray) -> np.ndarray:
        activation = np.array(features, dtype=np.float64)
        activation -= self.mean
        activation /= self.scale
        for layer, (weights, biases) in enumerate(zip(self.weights, self.biases)):
            activation = activation @ weights
            activation += biases
            _activate(activation, self.activation if layer < len(self.weights) - 1 else self.output_activation)
        return activation

    def parts(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        description = {"kind": self.kind, "layers": len(self.weights), "activation": self.activation,
                       "output_activation": self.output_activation}
        arrays = {f"{prefix}mean": self.mean, f"{prefix}scale": self.scale}
        for layer, (weights, biases) in enumerate(zip(self.weights, self.biases)):
            arrays[f"{prefix}weights{layer}"] = weights
            arrays[f"{prefix}biases{layer}"] = biases
        return description, arrays

    @classmethod
    def from_parts(cls, description: Mapping[str, Any], arrays: _Arrays, prefix: str) -> Perceptron:
        layers = _integer(description, "layers", prefix)
        activation = _choice(description, "activation", _ACTIVATIONS, prefix)
        output_activation = _choice(description, "output_activation", _ACTIVATIONS, prefix)
        mean = arrays.get(f"{prefix}mean", "f", 1)
        scale = arrays.get(f"{prefix}scale", "f", 1, len(mean))
        weights, biases = [], []
        inputs = len(mean)
        for layer in range(layers):
            matrix = arrays.get(f"{prefix}weights{layer}", "f", 2, inputs)
            weights.append(np.ascontiguousarray(matrix, dtype=np.float64).copy())
            biases.append(arrays.get(f"{prefix}biases{layer}", "f", 1, matrix.shape[1]).astype(np.float64))
            inputs = matrix.shape[1]
        if not weights:
            raise ProxyError(f"{arrays.path}: the perceptron {prefix or ''}has no layers")
        return cls(mean=mean.astype(np.float64), scale=scale.astype(np.float64), weights=weights, biases=biases,
                   activation=activation, output_activation=output_activation)


def _activate(values: np.ndarray, activation: str) -> None:
    """Apply an activation in place, with the operations scikit-learn uses."""
    if activation == "relu":
        np.maximum(values, 0, out=values)
    elif activation == "tanh":
        np.tanh(values, out=values)
    elif activation == "logistic":
        from scipy.special import expit

        expit(values, out=values)


def _perceptron(pipeline: Any) -> Perceptron:
    steps = [step for _, step in pipeline.steps]
    if len(steps) != 2 or type(steps[0]).__name__ != "StandardScaler" or type(steps[1]).__name__ != "MLPRegressor":
        raise ProxyError("only a StandardScaler + MLPRegressor pipeline has a plain form")
    scaler, network = steps
    features = int(scaler.n_features_in_)
    mean = np.asarray(scaler.mean_, dtype=np.float64) if scaler.with_mean else np.zeros(features)
    scale = np.asarray(scaler.scale_, dtype=np.float64) if scaler.with_std else np.ones(features)
    return Perceptron(mean=mean, scale=scale, weights=[np.array(w, dtype=np.float64) for w in network.coefs_],
                      biases=[np.array(b, dtype=np.float64) for b in network.intercepts_],
                      activation=network.activation, output_activation=network.out_activation_)


# -- one model per target, and XGBoost --------------------------------------------------------------


class PerTarget:
    """Single-output models, one per target, whose predictions are the columns of the output."""

    kind = "per_target"

    def __init__(self, models: list[PlainModel]) -> None:
        self.models = models
        self.n_features = models[0].n_features
        self.n_outputs = len(models)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.column_stack([model.predict(features)[:, 0] for model in self.models])

    def parts(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        descriptions, arrays = [], {}
        for index, model in enumerate(self.models):
            description, model_arrays = model.parts(f"{prefix}{index}.")
            descriptions.append(description)
            arrays.update(model_arrays)
        return {"kind": self.kind, "models": descriptions}, arrays

    @classmethod
    def from_parts(cls, description: Mapping[str, Any], arrays: _Arrays, prefix: str) -> PerTarget:
        models = description.get("models")
        if not isinstance(models, list) or not models:
            raise ProxyError(f"{arrays.path}: {prefix}models is not a non-empty list")
        loaded = [_from_parts(model, arrays, f"{prefix}{index}.") for index, model in enumerate(models)]
        if any(model.n_outputs != 1 or model.n_features != loaded[0].n_features for model in loaded):
            raise ProxyError(f"{arrays.path}: the per-target models {prefix}differ in inputs or have several outputs")
        return cls(loaded)


class XGBoostBooster:
    """An XGBoost model kept in XGBoost's own binary (UBJSON) format; predicting needs the xgboost package."""

    kind = "xgboost"

    def __init__(self, raw: bytes, n_features: int) -> None:
        import xgboost

        self.raw = raw
        self.n_features = n_features
        self.n_outputs = 1
        self._booster = xgboost.Booster()
        self._booster.load_model(bytearray(raw))

    def predict(self, features: np.ndarray) -> np.ndarray:
        output = self._booster.inplace_predict(np.asarray(features))
        return np.asarray(output, dtype=np.float64).reshape(len(features), 1)

    def parts(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"kind": self.kind, "n_features": self.n_features},
                {f"{prefix}booster": np.frombuffer(self.raw, dtype=np.uint8)})

    @classmethod
    def from_parts(cls, description: Mapping[str, Any], arrays: _Arrays, prefix: str) -> XGBoostBooster:
        raw = arrays.get(f"{prefix}booster", "u", 1).astype(np.uint8).tobytes()
        try:
            return cls(raw, _integer(description, "n_features", prefix))
        except ImportError:
            raise ProxyError(f"{arrays.path} holds an XGBoost model: pip install xgboost to use it") from None
        except Exception as error:  # noqa: BLE001 - XGBoost reports a corrupt model with its own exception types
            raise ProxyError(f"{arrays.path}: the XGBoost model is corrupt: {error}") from None


_KINDS: dict[str, Any] = {model.kind: model for model in (TreeEnsemble, Perceptron, PerTarget, XGBoostBooster)}


# -- conversion, saving and loading ---------------------------------------------------------------


def to_plain(regressor: Any) -> PlainModel:
    """The plain form of a fitted regressor of one of the proxy's families.

    Raises:
        ProxyError: the regressor is of another kind, which has no plain form.
    """
    name = type(regressor).__name__
    if name in ("ExtraTreesRegressor", "RandomForestRegressor"):
        return _forest(regressor)
    if name == "GradientBoostingRegressor":
        return _gradient_boosting(regressor)
    if name == "HistGradientBoostingRegressor":
        return _hist_gradient_boosting(regressor)
    if name == "Pipeline":
        return _perceptron(regressor)
    if name == "MultiOutputRegressor":
        return PerTarget([to_plain(estimator) for estimator in regressor.estimators_])
    if name == "XGBRegressor":
        return XGBoostBooster(bytes(regressor.get_booster().save_raw(raw_format="ubj")), int(regressor.n_features_in_))
    raise ProxyError(f"a {name} regressor has no plain form; proxies use extra trees, random forests, gradient "
                     "boosting, histogram gradient boosting, an MLP pipeline or XGBoost")


def save_plain(model: PlainModel, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to the ``.npz`` file ``path`` (numeric arrays and a JSON description; no pickle)."""
    description, arrays = model.parts("")
    structure = json.dumps({"format": PLAIN_FORMAT, "version": _FORMAT_VERSION, "model": description})
    contents: dict[str, Any] = {_STRUCTURE_KEY: np.array(structure), **arrays}
    with open(path, "wb") as file:
        np.savez_compressed(file, allow_pickle=False, **contents)


def load_plain(path: str | os.PathLike[str]) -> PlainModel:
    """Read a model written by :func:`save_plain`; nothing in the file is unpickled or run.

    Raises:
        ProxyError: the file is missing, not such a model, or its arrays are malformed.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError) as error:
        raise ProxyError(f"{path} is corrupt or unreadable: {type(error).__name__}: {error}") from None
    structure_array = arrays.pop(_STRUCTURE_KEY, None)
    try:
        structure = json.loads(str(structure_array)) if structure_array is not None and structure_array.ndim == 0 \
            else None
    except json.JSONDecodeError:
        structure = None
    if not isinstance(structure, dict) or structure.get("format") != PLAIN_FORMAT:
        raise ProxyError(f"{path} is not a saved regressor (no {PLAIN_FORMAT!r} description)")
    if structure.get("version") != _FORMAT_VERSION:
        raise ProxyError(f"{path} is a regressor of format version {structure.get('version')!r}; this version of "
                         f"ArchGym reads version {_FORMAT_VERSION}")
    return _from_parts(structure.get("model"), _Arrays(path, arrays), "")


def _from_parts(description: Any, arrays: _Arrays, prefix: str) -> PlainModel:
    if not isinstance(description, dict) or description.get("kind") not in _KINDS:
        raise ProxyError(f"{arrays.path}: model {prefix or ''}has no known kind; expected one of {', '.join(_KINDS)}")
    model: PlainModel = _KINDS[description["kind"]].from_parts(description, arrays, prefix)
    return model


class _Arrays:
    """The arrays of a model file, handed out only with the dtype kind and shape a model expects."""

    def __init__(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        self.path = path
        self._arrays = arrays

    def get(self, name: str, kinds: str, ndim: int, length: int | None = None) -> np.ndarray:
        """The array ``name``: of a dtype kind in ``kinds`` (``"f"``, ``"i"``, ...), ``ndim`` dimensions, ``length`` rows."""
        array = self._arrays.get(name)
        if array is None:
            raise ProxyError(f"{self.path} has no array {name!r}")
        allowed = set(kinds) | ({"u"} if "i" in kinds else set())
        if array.dtype.kind not in allowed or array.ndim != ndim or (length is not None and len(array) != length):
            raise ProxyError(f"{self.path}: array {name!r} is {array.dtype} of shape {array.shape}; expected "
                             f"{ndim} dimension(s) of kind {kinds!r}" + (f" and {length} rows" if length else ""))
        return array


def _integer(description: Mapping[str, Any], key: str, prefix: str) -> int:
    value = description.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProxyError(f"the saved model's {prefix}{key} is {value!r}; expected an integer >= 0")
    return value


def _choice(description: Mapping[str, Any], key: str, choices: tuple[str, ...], prefix: str) -> str:
    value = description.get(key)
    if value not in choices:
        raise ProxyError(f"the saved model's {prefix}{key} is {value!r}; expected one of {', '.join(choices)}")
    return str(value)
