"""Design spaces: the single definition of a problem's knobs.

A :class:`DesignSpace` is shared by environments, cost models and agents, so
that every component agrees on the knobs and their allowed values. Designs are
plain ``dict[str, value]`` mappings; the space converts them to and from index
vectors (one integer per knob) and unit-cube vectors (one float in [0, 1] per
knob) for agents that work on numbers.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from archgym.errors import InvalidDesignError

Design = dict[str, Any]
"""A design: one value per knob, keyed by knob name."""


class ParameterKind(str, enum.Enum):
    """How a knob's values relate to each other."""

    CATEGORICAL = "categorical"
    """Unordered choices (a scheduler name)."""
    ORDINAL = "ordinal"
    """Ordered discrete values (buffer sizes in powers of two)."""
    INTEGER = "integer"
    """Every integer between two bounds, inclusive."""
    FLOAT = "float"
    """A real number between two bounds, inclusive."""


@dataclass(frozen=True)
class Parameter:
    """One knob of a design space.

    Args:
        name: Knob name, unique within its space.
        values: The allowed values for categorical and ordinal knobs, in order;
            ``(low, high)`` inclusive bounds for integer and float knobs.
        kind: How the values relate; see :class:`ParameterKind`.
        description: One line for documentation and ``archgym envs``.
    """

    name: str
    values: tuple[Any, ...]
    kind: ParameterKind = ParameterKind.CATEGORICAL
    description: str = ""
    _index: dict[Any, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        kind = ParameterKind(self.kind)
        object.__setattr__(self, "kind", kind)
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        if not self.name:
            raise ValueError("a parameter needs a non-empty name")
        if kind in (ParameterKind.INTEGER, ParameterKind.FLOAT):
            if (
                len(values) != 2
                or not all(_is_real(v) and math.isfinite(v) for v in values)
                or not values[0] <= values[1]
            ):
                raise ValueError(
                    f"parameter {self.name!r}: {kind.value} knobs take values=(low, high) "
                    f"with low <= high, got {values!r}"
                )
            if kind is ParameterKind.INTEGER and not all(float(v).is_integer() for v in values):
                raise ValueError(f"parameter {self.name!r}: integer bounds must be whole numbers")
            object.__setattr__(self, "_index", {})
            return
        if not values:
            raise ValueError(f"parameter {self.name!r} needs at least one value")
        index = {value: i for i, value in enumerate(values)}
        if len(index) != len(values):
            raise ValueError(f"parameter {self.name!r} has duplicate values: {values!r}")
        object.__setattr__(self, "_index", index)

    @property
    def is_discrete(self) -> bool:
        """Whether the knob has finitely many values (every kind but float)."""
        return self.kind is not ParameterKind.FLOAT

    @property
    def cardinality(self) -> int | float:
        """Number of allowed values (``math.inf`` for float knobs)."""
        if self.kind is ParameterKind.FLOAT:
            return math.inf
        if self.kind is ParameterKind.INTEGER:
            return int(self.values[1]) - int(self.values[0]) + 1
        return len(self.values)

    @property
    def fixed_value(self) -> Any:
        """The knob's only value when it can take just one (a float range of width 0 included), else None."""
        if self.kind is ParameterKind.FLOAT:
            return float(self.values[0]) if self.values[0] == self.values[1] else None
        return self.value_at(0) if self.cardinality == 1 else None

    def allowed(self) -> str:
        """Human-readable description of the allowed values, for error messages."""
        if self.kind in (ParameterKind.INTEGER, ParameterKind.FLOAT):
            return f"{self.kind.value} in [{self.values[0]}, {self.values[1]}]"
        return ", ".join(str(v) for v in self.values)

    def canonical(self, value: Any) -> Any:
        """Return ``value`` as this knob's canonical value, or raise.

        Accepts equivalent spellings: ``8`` for ``8`` and ``"8"`` for an ordinal
        of integers, ``8.0`` for ``8``.

        Raises:
            InvalidDesignError: ``value`` is not allowed; the message names the
                knob and the allowed values.
        """
        if self.kind in (ParameterKind.INTEGER, ParameterKind.FLOAT):
            if self.kind is ParameterKind.INTEGER and _is_real(value) and isinstance(value, (int, np.integer)):
                number: float | int | None = int(value)  # exact: a float loses integers beyond 2**53
            else:
                number = _as_number(value)
            if (
                number is None
                or (isinstance(number, float) and math.isnan(number))
                or not self.values[0] <= number <= self.values[1]
            ):
                raise InvalidDesignError(
                    f"knob {self.name!r}: value {value!r} is not allowed; expected {self.allowed()}"
                )
            if self.kind is ParameterKind.INTEGER:
                if isinstance(number, float) and not number.is_integer():
                    raise InvalidDesignError(
                        f"knob {self.name!r}: value {value!r} is not a whole number; "
                        f"expected {self.allowed()}"
                    )
                return int(number)
            return float(number)
        if isinstance(value, (bool, np.bool_)) and not any(isinstance(v, (bool, np.bool_)) for v in self.values):
            # True == 1 and hashes alike, so the lookup below would take True for the value 1.
            raise InvalidDesignError(
                f"knob {self.name!r}: value {value!r} is a boolean; allowed values are {self.allowed()}"
            )
        try:
            if value in self._index:
                return self.values[self._index[value]]
        except TypeError:  # unhashable values are simply not allowed
            pass
        for candidate in self.values:  # "8" for 8, 8.0 for 8
            if str(candidate) == str(value) or (
                _as_number(candidate) is not None and _as_number(candidate) == _as_number(value)
            ):
                return candidate
        raise InvalidDesignError(
            f"knob {self.name!r}: value {value!r} is not allowed; allowed values are {self.allowed()}"
        )

    def index_of(self, value: Any) -> int:
        """Index of ``value`` among the knob's values (offset from ``low`` for integers)."""
        value = self.canonical(value)
        if self.kind is ParameterKind.INTEGER:
            return value - int(self.values[0])
        if self.kind is ParameterKind.FLOAT:
            raise InvalidDesignError(f"knob {self.name!r} is continuous and has no index")
        return self._index[value]

    def value_at(self, index: float) -> Any:
        """The value at ``index`` (inverse of :meth:`index_of`); an integral float is accepted."""
        if self.kind is ParameterKind.FLOAT:
            raise InvalidDesignError(f"knob {self.name!r} is continuous and has no index")
        n = self.cardinality
        if isinstance(index, float) and not index.is_integer():
            raise InvalidDesignError(f"knob {self.name!r}: index {index!r} is not an integer")
        if not 0 <= index < n:
            raise InvalidDesignError(
                f"knob {self.name!r}: index {index!r} is out of range; expected 0..{n - 1}"
            )
        if self.kind is ParameterKind.INTEGER:
            return int(self.values[0]) + int(index)
        return self.values[int(index)]

    def to_unit(self, value: Any) -> float:
        """Map a value to [0, 1]: bin centres for discrete knobs, linear for floats."""
        if self.kind is ParameterKind.FLOAT:
            low, high = self.values
            return 0.0 if high == low else (self.canonical(value) - low) / (high - low)
        return (self.index_of(value) + 0.5) / self.cardinality

    def from_unit(self, u: float) -> Any:
        """Inverse of :meth:`to_unit`; any point of [0, 1] maps to a value."""
        if math.isnan(u):
            raise InvalidDesignError(f"knob {self.name!r}: unit coordinate is NaN")
        u = min(max(float(u), 0.0), 1.0)
        if self.kind is ParameterKind.FLOAT:
            low, high = self.values
            return float(min(max(low + u * (high - low), low), high))  # rounding can overshoot high
        n = int(self.cardinality)  # finite: float knobs returned above
        return self.value_at(min(int(u * n), n - 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (used for fingerprints and docs)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "values": list(self.values),
            "description": self.description,
        }


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class DesignSpace:
    """An ordered collection of :class:`Parameter` s defining one design problem.

    Args:
        parameters: The knobs, in a fixed order used by index and unit vectors.
        name: Short name of the problem, for messages.
    """

    def __init__(self, parameters: Sequence[Parameter], name: str = "") -> None:
        self.parameters: tuple[Parameter, ...] = tuple(parameters)
        self.name = name
        if not self.parameters:
            raise ValueError("a design space needs at least one parameter")
        self._by_name = {p.name: p for p in self.parameters}
        if len(self._by_name) != len(self.parameters):
            raise ValueError("parameter names in a design space must be unique")
        self.names: tuple[str, ...] = tuple(p.name for p in self.parameters)

    # -- container protocol -------------------------------------------------
    def __len__(self) -> int:
        return len(self.parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidDesignError(
                f"unknown knob {name!r}; knobs are {', '.join(self.names)}"
            ) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DesignSpace) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        return f"DesignSpace({self.name!r}, {len(self)} knobs, size={self.size})"

    # -- properties ---------------------------------------------------------
    @property
    def is_discrete(self) -> bool:
        """Whether every knob has finitely many values."""
        return all(p.is_discrete for p in self.parameters)

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of values per knob, as an int64 array (discrete spaces only)."""
        if not self.is_discrete:
            raise InvalidDesignError(f"design space {self.name!r} has continuous knobs")
        return np.array([p.cardinality for p in self.parameters], dtype=np.int64)

    @property
    def size(self) -> int | float:
        """Number of distinct designs (``math.inf`` if any knob is continuous)."""
        return math.prod(p.cardinality for p in self.parameters)

    def fingerprint(self) -> str:
        """Stable hash of the knob definitions, to detect mismatched spaces."""
        payload = json.dumps([p.to_dict() for p in self.parameters], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    # -- validation ---------------------------------------------------------
    def validate(self, design: Mapping[str, Any]) -> Design:
        """Check a design and return it with canonical values in knob order.

        Raises:
            InvalidDesignError: a knob is unknown or missing, or a value is not
                allowed. The message names the knob and what is allowed.
        """
        if not isinstance(design, Mapping):
            raise InvalidDesignError(
                f"a design must be a mapping of knob name to value, got {type(design).__name__}"
            )
        unknown = [k for k in design if k not in self._by_name]
        if unknown:
            raise InvalidDesignError(
                f"unknown knob(s) {', '.join(map(repr, unknown))}; knobs are {', '.join(self.names)}"
            )
        missing = [n for n in self.names if n not in design]
        if missing:
            raise InvalidDesignError(
                f"design is missing knob(s) {', '.join(map(repr, missing))}; "
                f"every design sets all of {', '.join(self.names)}"
            )
        return {p.name: p.canonical(design[p.name]) for p in self.parameters}

    def contains(self, design: Mapping[str, Any]) -> bool:
        """Whether ``design`` is a valid design of this space."""
        try:
            self.validate(design)
        except InvalidDesignError:
            return False
        return True

    def complete(self, partial: Mapping[str, Any], defaults: Mapping[str, Any]) -> Design:
        """Fill knobs missing from ``partial`` from ``defaults`` and validate."""
        return self.validate({**defaults, **partial})

    # -- sampling and enumeration --------------------------------------------
    def sample(self, rng: np.random.Generator | int | None = None) -> Design:
        """Draw one design uniformly at random."""
        rng = np.random.default_rng(rng)
        design: Design = {}
        for p in self.parameters:
            if p.kind is ParameterKind.FLOAT:
                design[p.name] = float(rng.uniform(p.values[0], p.values[1]))
            else:
                design[p.name] = p.value_at(int(rng.integers(int(p.cardinality))))
        return design

    def sample_indices(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` index vectors uniformly at random, shape ``(n, len(self))``."""
        rng = np.random.default_rng(rng)
        return rng.integers(0, self.cardinalities, size=(n, len(self)), dtype=np.int64)

    def enumerate(self) -> Iterator[Design]:
        """Yield every design, in index order (discrete spaces only)."""
        cards = self.cardinalities
        for indices in itertools.product(*(range(int(c)) for c in cards)):
            yield self.decode(indices)

    def all_indices(self) -> np.ndarray:
        """Every index vector as one array of shape ``(size, len(self))``, in index order."""
        cards = self.cardinalities
        grids = np.meshgrid(*(np.arange(c) for c in cards), indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)

    # -- encodings ----------------------------------------------------------
    def encode(self, design: Mapping[str, Any]) -> np.ndarray:
        """Index vector of a design (one int per knob), validating it first."""
        design = self.validate(design)
        return np.array([p.index_of(design[p.name]) for p in self.parameters], dtype=np.int64)

    def decode(self, indices: Sequence[int] | np.ndarray) -> Design:
        """Design of an index vector.

        Raises:
            InvalidDesignError: wrong length, NaN, non-integer or out-of-range index.
        """
        values = np.asarray(indices)
        if values.shape != (len(self),):
            raise InvalidDesignError(
                f"expected an index vector of {len(self)} entries (one per knob: "
                f"{', '.join(self.names)}), got shape {values.shape}"
            )
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values) | (values != np.round(values))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidDesignError(
                    f"knob {self.names[i]!r}: index {values[i]!r} is not an integer "
                    f"(expected 0..{self.parameters[i].cardinality - 1})"
                )
        elif values.dtype.kind not in "iu":
            raise InvalidDesignError(f"index vector must be numeric, got dtype {values.dtype}")
        return {p.name: p.value_at(int(v)) for p, v in zip(self.parameters, values)}

    def encode_unit(self, design: Mapping[str, Any]) -> np.ndarray:
        """Unit-cube vector of a design (bin centres for discrete knobs)."""
        design = self.validate(design)
        return np.array([p.to_unit(design[p.name]) for p in self.parameters], dtype=np.float64)

    def decode_unit(self, u: Sequence[float] | np.ndarray) -> Design:
        """Design of a unit-cube vector; coordinates are clipped into [0, 1]."""
        u = np.asarray(u, dtype=np.float64)
        if u.shape != (len(self),):
            raise InvalidDesignError(
                f"expected a unit vector of {len(self)} entries, got shape {u.shape}"
            )
        return {p.name: p.from_unit(float(x)) for p, x in zip(self.parameters, u)}

    def validate_indices(self, indices: np.ndarray) -> np.ndarray:
        """Check a batch of index vectors (shape ``(n, len(self))``) and return it as int64."""
        arr = np.asarray(indices)
        if arr.ndim != 2 or arr.shape[1] != len(self):
            raise InvalidDesignError(
                f"expected index vectors of shape (n, {len(self)}), got {arr.shape}"
            )
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
                raise InvalidDesignError("index vectors contain NaN, infinite or fractional entries")
        elif arr.dtype.kind not in "iu":
            raise InvalidDesignError(f"index vectors must be numeric, got dtype {arr.dtype}")
        cards = self.cardinalities
        bad = (arr < 0) | (arr >= cards)  # before the cast, which would wrap huge values
        if bad.any():
            row, col = (int(x) for x in np.argwhere(bad)[0])
            raise InvalidDesignError(
                f"knob {self.names[col]!r}: index {arr[row, col]} in row {row} is out of range; "
                f"expected 0..{cards[col] - 1}"
            )
        return arr.astype(np.int64, copy=False)

    # -- gymnasium ----------------------------------------------------------
    def to_gym_space(self) -> spaces.Space:
        """A gymnasium space for actions over this design space.

        Discrete spaces become ``MultiDiscrete`` over knob indices (decode with
        :meth:`decode`); spaces with continuous knobs become a ``Dict`` of
        ``Discrete`` and ``Box`` sub-spaces keyed by knob name.
        """
        if self.is_discrete:
            return spaces.MultiDiscrete(self.cardinalities)
        parts: dict[str, spaces.Space] = {}
        for p in self.parameters:
            if p.kind is ParameterKind.FLOAT:
                parts[p.name] = spaces.Box(low=p.values[0], high=p.values[1], shape=(), dtype=np.float64)
            else:
                parts[p.name] = spaces.Discrete(int(p.cardinality))
        return spaces.Dict(parts)

    def describe(self) -> list[dict[str, Any]]:
        """One dict per knob (name, kind, values, description), for listings."""
        return [p.to_dict() for p in self.parameters]
