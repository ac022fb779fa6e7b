"""The regressor families a proxy can use: construction, tuning ranges and fitting shape.

Predictions go through the regressors' plain form (:mod:`archgym.proxy.plain`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from archgym.errors import ConfigurationError

__all__ = [
    "MODEL_KINDS",
    "check_model_kind",
    "fit_shape",
    "make_regressor",
    "plain_params",
    "search_space",
]

MODEL_KINDS: tuple[str, ...] = ("et", "rf", "gbm", "hgb", "mlp", "xgboost")
"""Regressors a proxy can use: extra trees (default), random forest, gradient boosting,
histogram gradient boosting, a multi-layer perceptron, and XGBoost when installed."""

_SINGLE_OUTPUT_KINDS = ("gbm", "hgb", "xgboost")
"""Regressors that learn one target at a time; they are wrapped to learn one model per target."""


def check_model_kind(kind: str) -> None:
    """Check that ``kind`` names a regressor family.

    Raises:
        ConfigurationError: it does not; the message lists :data:`MODEL_KINDS`.
    """
    if kind not in MODEL_KINDS:
        raise ConfigurationError(f"unknown proxy model {kind!r}; use one of {', '.join(MODEL_KINDS)}")


def make_regressor(kind: str, seed: int, n_jobs: int) -> Any:
    """A fresh regressor of ``kind`` for all targets at once (multi-output).

    Tree ensembles and the MLP learn every target jointly, so one traversal
    of the trees predicts them all (three times faster than a model per
    target, and as accurate on the DRAM data); boosting learns one model per
    target. The settings suit a few thousand to tens of thousands of rows and
    tens of features.

    Raises:
        ConfigurationError: an unknown kind, or ``xgboost`` without its package.
    """
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_model_kind(kind)
    if kind == "et":
        return ExtraTreesRegressor(n_estimators=100, max_features=1.0, random_state=seed, n_jobs=n_jobs)
    if kind == "rf":
        return RandomForestRegressor(n_estimators=100, max_features=0.5, random_state=seed, n_jobs=n_jobs)
    if kind == "gbm":
        return MultiOutputRegressor(GradientBoostingRegressor(
            n_estimators=1000, learning_rate=0.05, max_depth=5, subsample=0.8, random_state=seed
        ))
    if kind == "hgb":
        # Large trees, stopped when a 10 % validation split stops improving: on rare, extreme
        # designs (the heavy tail of the metrics) this fits better than extra trees.
        return MultiOutputRegressor(HistGradientBoostingRegressor(
            max_iter=2000, learning_rate=0.1, max_leaf_nodes=255, min_samples_leaf=1, early_stopping=True,
            n_iter_no_change=20, random_state=seed,
        ))
    if kind == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=(128, 128), alpha=1e-4, learning_rate_init=1e-3, max_iter=2000,
                early_stopping=True, n_iter_no_change=50, random_state=seed,
            ),
        )
    try:
        from xgboost import XGBRegressor
    except ImportError:
        raise ConfigurationError(
            "proxy model 'xgboost' needs the xgboost package: pip install xgboost "
            f"(or use one of {', '.join(k for k in MODEL_KINDS if k != 'xgboost')})"
        ) from None
    return MultiOutputRegressor(XGBRegressor(
        n_estimators=1000, learning_rate=0.05, max_depth=6, subsample=0.8, random_state=seed, n_jobs=n_jobs
    ))


def search_space(kind: str) -> dict[str, list[Any]]:
    """Hyperparameters tried by the optional randomised search, per regressor (as ``set_params`` names them)."""
    spaces: dict[str, dict[str, list[Any]]] = {
        "et": {"n_estimators": [50, 100, 200, 300], "max_features": [0.3, 0.5, 0.7, 1.0],
               "min_samples_leaf": [1, 2, 4]},
        "rf": {"n_estimators": [50, 100, 200, 300], "max_features": [0.3, 0.5, 0.7, 1.0],
               "min_samples_leaf": [1, 2, 4]},
        "gbm": {"n_estimators": [300, 1000, 2000], "learning_rate": [0.02, 0.05, 0.1],
                "max_depth": [3, 4, 5, 6], "subsample": [0.6, 0.8, 1.0]},
        "hgb": {"learning_rate": [0.03, 0.1, 0.3], "max_leaf_nodes": [15, 63, 255],
                "min_samples_leaf": [1, 2, 5, 20], "l2_regularization": [0.0, 0.1, 1.0]},
        "mlp": {"mlpregressor__hidden_layer_sizes": [(64, 64), (128, 128), (256, 256), (128, 128, 128)],
                "mlpregressor__alpha": [1e-5, 1e-4, 1e-3], "mlpregressor__learning_rate_init": [3e-4, 1e-3, 3e-3]},
        "xgboost": {"n_estimators": [300, 1000, 2000], "learning_rate": [0.02, 0.05, 0.1],
                    "max_depth": [4, 6, 8], "subsample": [0.6, 0.8, 1.0]},
    }
    space = spaces[kind]
    if kind in _SINGLE_OUTPUT_KINDS:
        return {f"estimator__{name}": values for name, values in space.items()}
    return space


def fit_shape(y: np.ndarray, kind: str) -> np.ndarray:
    """Targets as the regressor expects them: 1-D for one target, except for the per-target wrapper."""
    return y[:, 0] if y.shape[1] == 1 and kind not in _SINGLE_OUTPUT_KINDS else y


def plain_params(regressor: Any) -> dict[str, Any]:
    """The regressor's settings that JSON can hold (nested estimators are named, not expanded)."""
    params = regressor.get_params(deep=False)
    plain = (int, float, str, bool, type(None))
    return {k: v if isinstance(v, plain) else type(v).__name__ for k, v in params.items()}
