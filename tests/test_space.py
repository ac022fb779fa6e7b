"""Tests of archgym.space: parameters, design spaces, encodings and validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from archgym.errors import InvalidDesignError
from archgym.simulators.dram.knobs import DEFAULT_DRAM_DESIGN, DRAM_DESIGN_SPACE
from archgym.space import DesignSpace, Parameter, ParameterKind

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------------

KNOB_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=10)


@st.composite
def categorical_parameters(draw, name: str) -> Parameter:
    values = draw(st.lists(st.text(max_size=6), min_size=1, max_size=6, unique=True))
    return Parameter(name, tuple(values), ParameterKind.CATEGORICAL)


@st.composite
def ordinal_parameters(draw, name: str) -> Parameter:
    values = draw(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=6, unique=True))
    return Parameter(name, tuple(sorted(values)), ParameterKind.ORDINAL)


@st.composite
def integer_parameters(draw, name: str) -> Parameter:
    low = draw(st.integers(-(10**9), 10**9))
    width = draw(st.integers(0, 12))
    return Parameter(name, (low, low + width), ParameterKind.INTEGER)


@st.composite
def float_parameters(draw, name: str) -> Parameter:
    low = draw(st.floats(-1e6, 1e6, allow_nan=False))
    width = draw(st.floats(0.0, 1e6, allow_nan=False))
    return Parameter(name, (low, low + width), ParameterKind.FLOAT)


DISCRETE_KINDS = (categorical_parameters, ordinal_parameters, integer_parameters)
ALL_KINDS = (*DISCRETE_KINDS, float_parameters)


@st.composite
def design_spaces(draw, kinds=ALL_KINDS, max_knobs: int = 6) -> DesignSpace:
    names = draw(st.lists(KNOB_NAMES, min_size=1, max_size=max_knobs, unique=True))
    params = [draw(st.sampled_from(kinds).flatmap(lambda k, n=name: k(n))) for name in names]
    return DesignSpace(params, name="generated")


def discrete_spaces(max_knobs: int = 6) -> st.SearchStrategy[DesignSpace]:
    return design_spaces(DISCRETE_KINDS, max_knobs)


def small_discrete_spaces() -> st.SearchStrategy[DesignSpace]:
    return discrete_spaces(max_knobs=4).filter(lambda s: s.size <= 2000)


@st.composite
def space_and_indices(draw) -> tuple[DesignSpace, np.ndarray]:
    space = draw(discrete_spaces())
    idx = [draw(st.integers(0, int(c) - 1)) for c in space.cardinalities]
    return space, np.array(idx, dtype=np.int64)


def toy_space() -> DesignSpace:
    return DesignSpace(
        [
            Parameter("policy", ("Open", "Closed", "Adaptive"), ParameterKind.CATEGORICAL),
            Parameter("buffer", (1, 2, 4, 8, 16), ParameterKind.ORDINAL),
            Parameter("banks", (2, 5), ParameterKind.INTEGER),
        ],
        name="toy",
    )


def mixed_space() -> DesignSpace:
    return DesignSpace(
        [
            Parameter("policy", ("Open", "Closed"), ParameterKind.CATEGORICAL),
            Parameter("freq_ghz", (0.5, 3.5), ParameterKind.FLOAT),
        ],
        name="mixed",
    )


# -- property-based round trips ----------------------------------------------------


@SETTINGS
@given(space=discrete_spaces(), seed=st.integers(0, 2**32 - 1))
def test_decode_encode_round_trip(space: DesignSpace, seed: int) -> None:
    design = space.sample(seed)
    indices = space.encode(design)
    assert indices.dtype == np.int64
    assert indices.shape == (len(space),)
    assert space.decode(indices) == design
    assert space.to_gym_space().contains(indices)


@SETTINGS
@given(space=design_spaces(), seed=st.integers(0, 2**32 - 1))
def test_unit_round_trip(space: DesignSpace, seed: int) -> None:
    design = space.sample(seed)
    assert space.contains(design)
    u = space.encode_unit(design)
    assert u.shape == (len(space),)
    assert np.all((u >= 0.0) & (u <= 1.0))
    back = space.decode_unit(u)
    assert space.contains(back)
    for p in space:
        if p.is_discrete:
            assert back[p.name] == design[p.name]
        else:
            span = p.values[1] - p.values[0]
            assert back[p.name] == pytest.approx(design[p.name], rel=1e-9, abs=1e-9 * span + 1e-12)


@SETTINGS
@given(data=space_and_indices())
def test_encode_decode_round_trip(data: tuple[DesignSpace, np.ndarray]) -> None:
    space, indices = data
    design = space.decode(indices)
    assert space.contains(design)
    np.testing.assert_array_equal(space.encode(design), indices)
    # float and list spellings of the same vector decode identically
    assert space.decode(indices.astype(np.float64)) == design
    assert space.decode(indices.tolist()) == design


@SETTINGS
@given(space=design_spaces(), u=st.lists(st.floats(-2.0, 3.0, allow_nan=False), min_size=6, max_size=6))
def test_decode_unit_of_any_point_is_valid(space: DesignSpace, u: list[float]) -> None:
    design = space.decode_unit(u[: len(space)])
    assert space.contains(design)
    assert space.validate(design) == design
    unit = space.encode_unit(design)
    assert np.all((unit >= 0.0) & (unit <= 1.0))


@SETTINGS
@given(space=design_spaces())
def test_unit_bounds_map_to_extremes(space: DesignSpace) -> None:
    low = space.decode_unit(np.zeros(len(space)))
    high = space.decode_unit(np.ones(len(space)))
    for p in space:
        if p.kind is ParameterKind.FLOAT or p.kind is ParameterKind.INTEGER:
            assert low[p.name] == p.values[0]
            assert high[p.name] == p.values[1]
        else:
            assert low[p.name] == p.values[0]
            assert high[p.name] == p.values[-1]


@SETTINGS
@given(space=discrete_spaces(), n=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_sample_indices_within_bounds(space: DesignSpace, n: int, seed: int) -> None:
    batch = space.sample_indices(n, seed)
    assert batch.shape == (n, len(space))
    assert batch.dtype == np.int64
    assert np.all(batch >= 0)
    assert np.all(batch < space.cardinalities)
    np.testing.assert_array_equal(space.validate_indices(batch), batch)
    gym = space.to_gym_space()
    assert all(gym.contains(row) for row in batch)
    np.testing.assert_array_equal(space.sample_indices(n, seed), batch)


@SETTINGS
@given(space=small_discrete_spaces())
def test_all_indices_matches_enumerate(space: DesignSpace) -> None:
    everything = space.all_indices()
    designs = list(space.enumerate())
    assert everything.shape == (space.size, len(space))
    assert everything.dtype == np.int64
    assert len(designs) == space.size
    np.testing.assert_array_equal(everything, np.array([space.encode(d) for d in designs]))
    # index order is lexicographic (itertools.product order), every design distinct
    expected = np.array(list(itertools.product(*(range(int(c)) for c in space.cardinalities))))
    np.testing.assert_array_equal(everything, expected)
    assert len({tuple(row) for row in everything}) == space.size


@SETTINGS
@given(space=design_spaces())
def test_size_is_product_of_cardinalities(space: DesignSpace) -> None:
    assert space.size == math.prod(p.cardinality for p in space)
    if space.is_discrete:
        assert space.size == int(np.prod(space.cardinalities))
        np.testing.assert_array_equal(space.to_gym_space().nvec, space.cardinalities)
    else:
        assert space.size == math.inf


@SETTINGS
@given(space=design_spaces(), seed=st.integers(0, 2**32 - 1))
def test_sample_is_reproducible_and_valid(space: DesignSpace, seed: int) -> None:
    design = space.sample(seed)
    assert space.sample(seed) == design
    assert space.sample(np.random.default_rng(seed)) == design
    assert list(design) == list(space.names)
    assert space.validate(design) == design


@SETTINGS
@given(space=design_spaces())
def test_fingerprint_is_stable_and_defines_equality(space: DesignSpace) -> None:
    copy = DesignSpace(list(space.parameters), name="another name")
    assert space.fingerprint() == copy.fingerprint()
    assert space == copy
    assert hash(space) == hash(copy)
    assert len(space.fingerprint()) == 16


# -- DRAM space ----------------------------------------------------------------------


def test_dram_space_size() -> None:
    assert DRAM_DESIGN_SPACE.size == 442_368
    assert len(DRAM_DESIGN_SPACE) == 10
    assert DRAM_DESIGN_SPACE.is_discrete
    gym = DRAM_DESIGN_SPACE.to_gym_space()
    assert isinstance(gym, spaces.MultiDiscrete)
    np.testing.assert_array_equal(gym.nvec, [4, 3, 3, 8, 2, 2, 4, 4, 3, 8])


def test_dram_default_design_round_trips() -> None:
    space = DRAM_DESIGN_SPACE
    assert space.validate(DEFAULT_DRAM_DESIGN) == DEFAULT_DRAM_DESIGN
    assert space.decode(space.encode(DEFAULT_DRAM_DESIGN)) == DEFAULT_DRAM_DESIGN
    assert space.decode_unit(space.encode_unit(DEFAULT_DRAM_DESIGN)) == DEFAULT_DRAM_DESIGN


def test_dram_all_indices_shape() -> None:
    everything = DRAM_DESIGN_SPACE.all_indices()
    assert everything.shape == (442_368, 10)
    np.testing.assert_array_equal(everything[0], np.zeros(10))
    np.testing.assert_array_equal(everything[-1], DRAM_DESIGN_SPACE.cardinalities - 1)
    np.testing.assert_array_equal(everything[1], [0] * 9 + [1])


# -- validate ------------------------------------------------------------------------


def valid_toy() -> dict:
    return {"policy": "Closed", "buffer": 4, "banks": 3}


def test_validate_returns_canonical_design_in_knob_order() -> None:
    space = toy_space()
    design = {"banks": 3, "policy": "Closed", "buffer": 4}
    validated = space.validate(design)
    assert validated == valid_toy()
    assert list(validated) == ["policy", "buffer", "banks"]


def test_validate_unknown_knob() -> None:
    with pytest.raises(InvalidDesignError) as err:
        toy_space().validate({**valid_toy(), "colour": "red"})
    message = str(err.value)
    assert "'colour'" in message
    for name in ("policy", "buffer", "banks"):
        assert name in message


def test_validate_missing_knob() -> None:
    design = valid_toy()
    del design["buffer"]
    with pytest.raises(InvalidDesignError) as err:
        toy_space().validate(design)
    message = str(err.value)
    assert "'buffer'" in message
    assert "missing" in message


@pytest.mark.parametrize(
    ("knob", "value", "allowed"),
    [
        ("policy", "Sometimes", ["Open", "Closed", "Adaptive"]),
        ("buffer", 3, ["1", "2", "4", "8", "16"]),
        ("buffer", "3", ["1", "2", "4", "8", "16"]),
        ("buffer", None, ["1", "2", "4", "8", "16"]),
        ("buffer", [4], ["1", "2", "4", "8", "16"]),
        ("banks", 6, ["2", "5"]),
        ("banks", 1, ["2", "5"]),
        ("banks", 3.5, ["2", "5"]),
        ("banks", "three", ["2", "5"]),
        ("banks", True, ["2", "5"]),
        ("buffer", True, ["1", "2", "4", "8", "16"]),  # True == 1 and hashes alike
        ("buffer", np.True_, ["1", "2", "4", "8", "16"]),
    ],
)
def test_validate_rejects_values_naming_knob_and_allowed(knob: str, value, allowed: list[str]) -> None:
    with pytest.raises(InvalidDesignError) as err:
        toy_space().validate({**valid_toy(), knob: value})
    message = str(err.value)
    assert repr(knob) in message
    for a in allowed:
        assert a in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 3.6, 0.4, "nan", None])
def test_validate_float_knob_rejects(value) -> None:
    with pytest.raises(InvalidDesignError) as err:
        mixed_space().validate({"policy": "Open", "freq_ghz": value})
    message = str(err.value)
    assert "'freq_ghz'" in message
    assert "0.5" in message and "3.5" in message


@pytest.mark.parametrize("design", [["Open", 1.0], ("policy", "Open"), "Open", None, 3])
def test_validate_non_mapping(design) -> None:
    with pytest.raises(InvalidDesignError, match="mapping"):
        mixed_space().validate(design)
    assert not mixed_space().contains(design)


@pytest.mark.parametrize(
    ("knob", "spelling", "canonical"),
    [
        ("buffer", "8", 8),
        ("buffer", 8.0, 8),
        ("buffer", "8.0", 8),
        ("buffer", np.int64(8), 8),
        ("buffer", np.float32(8.0), 8),
        ("banks", "4", 4),
        ("banks", 4.0, 4),
        ("banks", np.int32(4), 4),
    ],
)
def test_validate_canonicalises_equivalent_spellings(knob: str, spelling, canonical) -> None:
    validated = toy_space().validate({**valid_toy(), knob: spelling})
    assert validated[knob] == canonical
    assert type(validated[knob]) is int


def test_validate_canonicalises_string_ordinal_of_numbers() -> None:
    space = DesignSpace([Parameter("mode", ("1", "2", "x"), ParameterKind.CATEGORICAL)])
    assert space.validate({"mode": 2}) == {"mode": "2"}
    assert space.validate({"mode": 1.0}) == {"mode": "1"}


def test_validate_float_knob_canonicalises_to_float() -> None:
    validated = mixed_space().validate({"policy": "Open", "freq_ghz": 2})
    assert validated["freq_ghz"] == 2.0
    assert type(validated["freq_ghz"]) is float
    assert mixed_space().validate({"policy": "Open", "freq_ghz": "1.25"})["freq_ghz"] == 1.25


def test_complete_fills_defaults() -> None:
    space = toy_space()
    assert space.complete({"banks": "5"}, valid_toy()) == {**valid_toy(), "banks": 5}
    with pytest.raises(InvalidDesignError, match="'buffer'"):
        space.complete({"buffer": 5}, valid_toy())


def test_getitem_unknown_knob() -> None:
    with pytest.raises(InvalidDesignError, match="'nope'.*policy"):
        toy_space()["nope"]
    assert toy_space()["banks"].cardinality == 4


def test_large_integer_knob_is_exact() -> None:
    low, high = -(2**61), 2**61
    space = DesignSpace([Parameter("addr", (low, high), ParameterKind.INTEGER)])
    for value in (high - 1, low + 1, high, low, 2**53 + 1):
        design = {"addr": value}
        assert space.validate(design) == design
        assert space.decode(space.encode(design)) == design
    with pytest.raises(InvalidDesignError, match="'addr'"):
        space.validate({"addr": high + 1})


# -- decode and validate_indices -------------------------------------------------------


@pytest.mark.parametrize("indices", [[0, 0], [0, 0, 0, 0], [], [[0, 0, 0]]])
def test_decode_wrong_length(indices) -> None:
    with pytest.raises(InvalidDesignError, match="policy, buffer, banks"):
        toy_space().decode(indices)


@pytest.mark.parametrize(
    ("indices", "knob"),
    [
        ([math.nan, 0, 0], "policy"),
        ([0, math.inf, 0], "buffer"),
        ([0, 0, 1.5], "banks"),
        ([3, 0, 0], "policy"),
        ([0, 5, 0], "buffer"),
        ([0, 0, 4], "banks"),
        ([0, -1, 0], "buffer"),
        ([0, 0, 4.0], "banks"),
    ],
)
def test_decode_bad_index_names_knob(indices, knob: str) -> None:
    with pytest.raises(InvalidDesignError, match=repr(knob)):
        toy_space().decode(indices)


def test_decode_rejects_non_numeric() -> None:
    with pytest.raises(InvalidDesignError):
        toy_space().decode(["a", "b", "c"])
    with pytest.raises(InvalidDesignError):
        toy_space().decode(np.array([True, False, True]))


def test_decode_continuous_knob_has_no_index() -> None:
    with pytest.raises(InvalidDesignError, match="'freq_ghz'.*continuous"):
        mixed_space().decode([0, 0])
    with pytest.raises(InvalidDesignError, match="'freq_ghz'.*continuous"):
        mixed_space().encode({"policy": "Open", "freq_ghz": 1.0})


def test_decode_unit_wrong_length() -> None:
    with pytest.raises(InvalidDesignError, match="3 entries"):
        toy_space().decode_unit([0.5, 0.5])
    with pytest.raises(InvalidDesignError, match="'banks'.*NaN"):
        toy_space().decode_unit([0.5, 0.5, math.nan])


def test_validate_indices_accepts_int_and_whole_float_batches() -> None:
    space = toy_space()
    batch = np.array([[0, 0, 0], [2, 4, 3]])
    for arr in (batch, batch.astype(np.float32), batch.astype(np.uint8), batch.tolist()):
        out = space.validate_indices(arr)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, batch)
    assert space.validate_indices(np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.5])
def test_validate_indices_rejects_nan_and_fractions(bad: float) -> None:
    batch = np.zeros((4, 3))
    batch[2, 1] = bad
    with pytest.raises(InvalidDesignError, match="NaN, infinite or fractional"):
        toy_space().validate_indices(batch)


@pytest.mark.parametrize(
    ("row", "col", "value", "knob"),
    [(0, 0, 3, "policy"), (2, 1, -1, "buffer"), (3, 2, 4, "banks"), (1, 1, 10**30, "buffer")],
)
def test_validate_indices_out_of_range_names_row_and_knob(row: int, col: int, value, knob: str) -> None:
    batch = np.zeros((4, 3), dtype=np.float64 if value > 2**62 else np.int64)
    batch[row, col] = value
    with pytest.raises(InvalidDesignError) as err:
        toy_space().validate_indices(batch)
    message = str(err.value)
    assert repr(knob) in message
    assert f"row {row}" in message
    assert f"index {batch[row, col]}" in message


def test_validate_indices_huge_unsigned_is_reported_unwrapped() -> None:
    batch = np.array([[0, 2**63 + 5, 0]], dtype=np.uint64)
    with pytest.raises(InvalidDesignError, match=f"'buffer': index {2**63 + 5} in row 0"):
        toy_space().validate_indices(batch)


@pytest.mark.parametrize("shape", [(3,), (4, 2), (4, 4), (2, 3, 1)])
def test_validate_indices_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidDesignError, match=r"\(n, 3\)"):
        toy_space().validate_indices(np.zeros(shape, dtype=np.int64))


def test_validate_indices_non_numeric() -> None:
    with pytest.raises(InvalidDesignError, match="numeric"):
        toy_space().validate_indices(np.array([["a", "b", "c"]]))


# -- sampling, fingerprints, equality ---------------------------------------------------


def test_sample_reproducible_per_seed() -> None:
    space = DRAM_DESIGN_SPACE
    assert space.sample(7) == space.sample(7)
    assert len({tuple(space.sample(seed).values()) for seed in range(30)}) > 1
    np.testing.assert_array_equal(space.sample_indices(50, 3), space.sample_indices(50, 3))
    assert not np.array_equal(space.sample_indices(50, 3), space.sample_indices(50, 4))


def test_sample_float_knob_in_bounds() -> None:
    rng = np.random.default_rng(0)
    values = [mixed_space().sample(rng)["freq_ghz"] for _ in range(200)]
    assert all(0.5 <= v <= 3.5 for v in values)
    assert len(set(values)) == 200


def test_sample_indices_rejects_continuous_space() -> None:
    with pytest.raises(InvalidDesignError, match="continuous"):
        mixed_space().sample_indices(3, 0)


def test_fingerprint_stable_and_sensitive() -> None:
    base = toy_space()
    assert base.fingerprint() == toy_space().fingerprint()
    assert base.fingerprint() == DesignSpace(list(base.parameters)).fingerprint()
    changed_value = DesignSpace(
        [
            Parameter("policy", ("Open", "Closed", "Adaptive"), ParameterKind.CATEGORICAL),
            Parameter("buffer", (1, 2, 4, 8, 32), ParameterKind.ORDINAL),
            Parameter("banks", (2, 5), ParameterKind.INTEGER),
        ]
    )
    changed_bound = DesignSpace(
        [
            Parameter("policy", ("Open", "Closed", "Adaptive"), ParameterKind.CATEGORICAL),
            Parameter("buffer", (1, 2, 4, 8, 16), ParameterKind.ORDINAL),
            Parameter("banks", (2, 6), ParameterKind.INTEGER),
        ]
    )
    reordered = DesignSpace([base["buffer"], base["policy"], base["banks"]])
    as_strings = DesignSpace(
        [
            Parameter("policy", ("Open", "Closed", "Adaptive"), ParameterKind.CATEGORICAL),
            Parameter("buffer", ("1", "2", "4", "8", "16"), ParameterKind.ORDINAL),
            Parameter("banks", (2, 5), ParameterKind.INTEGER),
        ]
    )
    prints = {s.fingerprint() for s in (base, changed_value, changed_bound, reordered, as_strings)}
    assert len(prints) == 5
    for other in (changed_value, changed_bound, reordered, as_strings):
        assert base != other


def test_equality_and_hash_by_fingerprint() -> None:
    a = toy_space()
    b = DesignSpace(list(toy_space().parameters), name="renamed")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, DRAM_DESIGN_SPACE}) == 2
    assert a != mixed_space()
    assert a != "toy"
    assert a != a.fingerprint()


@SETTINGS
@given(space=discrete_spaces(), seed=st.integers(0, 2**32 - 1))
def test_fingerprint_changes_with_a_value(space: DesignSpace, seed: int) -> None:
    rng = np.random.default_rng(seed)
    i = int(rng.integers(len(space)))
    p = space.parameters[i]
    if p.kind is ParameterKind.CATEGORICAL:
        new = Parameter(p.name, (*p.values[:-1], p.values[-1] + "!"), p.kind)
    elif p.kind is ParameterKind.ORDINAL:
        replacement = max(p.values) + 1
        new = Parameter(p.name, (*p.values[:-1], replacement), p.kind)
    else:
        new = Parameter(p.name, (p.values[0], p.values[1] + 1), p.kind)
    assume(new.values != p.values)
    changed = DesignSpace([*space.parameters[:i], new, *space.parameters[i + 1 :]])
    assert changed.fingerprint() != space.fingerprint()
    assert changed != space


# -- gymnasium spaces -----------------------------------------------------------------


def test_to_gym_space_discrete() -> None:
    gym = toy_space().to_gym_space()
    assert isinstance(gym, spaces.MultiDiscrete)
    np.testing.assert_array_equal(gym.nvec, [3, 5, 4])
    assert gym.contains(np.array([2, 4, 3]))
    assert not gym.contains(np.array([3, 0, 0]))
    for seed in range(20):
        gym.seed(seed)
        assert toy_space().contains(toy_space().decode(gym.sample()))


def test_to_gym_space_continuous() -> None:
    gym = mixed_space().to_gym_space()
    assert isinstance(gym, spaces.Dict)
    assert set(gym.spaces) == {"policy", "freq_ghz"}
    assert isinstance(gym["policy"], spaces.Discrete)
    assert gym["policy"].n == 2
    box = gym["freq_ghz"]
    assert isinstance(box, spaces.Box)
    assert box.shape == ()
    assert box.dtype == np.float64
    assert float(box.low) == 0.5 and float(box.high) == 3.5
    assert gym.contains({"policy": 1, "freq_ghz": np.array(2.0)})
    assert not gym.contains({"policy": 1, "freq_ghz": np.array(4.0)})


@SETTINGS
@given(space=design_spaces(), seed=st.integers(0, 2**32 - 1))
def test_to_gym_space_matches_knobs(space: DesignSpace, seed: int) -> None:
    gym = space.to_gym_space()
    if space.is_discrete:
        assert isinstance(gym, spaces.MultiDiscrete)
        np.testing.assert_array_equal(gym.nvec, [p.cardinality for p in space])
        return
    assert isinstance(gym, spaces.Dict)
    design = space.sample(seed)
    action = {}
    for p in space:
        sub = gym[p.name]
        if p.is_discrete:
            assert isinstance(sub, spaces.Discrete) and sub.n == p.cardinality
            action[p.name] = p.index_of(design[p.name])
        else:
            assert isinstance(sub, spaces.Box)
            action[p.name] = np.array(design[p.name], dtype=np.float64)
    assert gym.contains(action)


# -- parameter construction ----------------------------------------------------------


@pytest.mark.parametrize("kind", [ParameterKind.CATEGORICAL, ParameterKind.ORDINAL])
def test_parameter_empty_values(kind: ParameterKind) -> None:
    with pytest.raises(ValueError, match="'k' needs at least one value"):
        Parameter("k", (), kind)


@pytest.mark.parametrize("values", [("a", "b", "a"), (1, 2, 1), (1, 1.0), (8, 8)])
def test_parameter_duplicate_values(values: tuple) -> None:
    with pytest.raises(ValueError, match="'k' has duplicate values"):
        Parameter("k", values, ParameterKind.ORDINAL)


@pytest.mark.parametrize("kind", [ParameterKind.INTEGER, ParameterKind.FLOAT])
@pytest.mark.parametrize(
    "bounds",
    [(), (1,), (1, 2, 3), (5, 1), (math.nan, 1), (0, math.nan), (0, math.inf), (-math.inf, 0), ("0", "1"), (None, 1)],
)
def test_parameter_bad_bounds(kind: ParameterKind, bounds: tuple) -> None:
    with pytest.raises(ValueError, match="'k'"):
        Parameter("k", bounds, kind)


def test_parameter_integer_bounds_must_be_whole() -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        Parameter("k", (0.5, 3), ParameterKind.INTEGER)
    assert Parameter("k", (1.0, 3.0), ParameterKind.INTEGER).cardinality == 3


def test_float_from_unit_stays_within_bounds() -> None:
    # -0.1 + 1.0 * (0.2 - -0.1) rounds to 0.20000000000000004
    p = Parameter("f", (-0.1, 0.2), ParameterKind.FLOAT)
    assert p.from_unit(1.0) == 0.2
    assert p.from_unit(0.0) == -0.1
    space = DesignSpace([p])
    assert space.contains(space.decode_unit([1.0]))


def test_parameter_misc_construction() -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        Parameter("", ("a",))
    with pytest.raises(ValueError):
        Parameter("k", ("a",), "boolean")
    p = Parameter("k", ["x", "y"], "categorical")
    assert p.kind is ParameterKind.CATEGORICAL
    assert p.values == ("x", "y")
    assert Parameter("f", (0.0, 0.0), ParameterKind.FLOAT).from_unit(0.7) == 0.0
    assert Parameter("f", (1.0, 2.0), ParameterKind.FLOAT).cardinality == math.inf


def test_design_space_construction_errors() -> None:
    with pytest.raises(ValueError, match="at least one parameter"):
        DesignSpace([])
    with pytest.raises(ValueError, match="unique"):
        DesignSpace([Parameter("a", (1,)), Parameter("a", (2,))])
    assert "size=60" in repr(toy_space())
    assert [d["name"] for d in toy_space().describe()] == ["policy", "buffer", "banks"]
