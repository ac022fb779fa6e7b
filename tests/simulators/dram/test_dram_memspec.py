"""Tests of the memspec presets, memspec loading and address mappings."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json

import numpy as np
import pytest

from archgym.errors import ConfigurationError, UnknownNameError
from archgym.simulators.dram.memspec import (
    AddressMapping,
    MemSpec,
    default_address_mapping,
    list_memspecs,
    load_address_mapping,
    load_memspec,
)

# The DDR3-1600 values the reference README lists for the memory behind the measurements.
DDR3_TIMINGS = {
    "CL": 10, "RCD": 10, "RP": 10, "RAS": 28, "RC": 38, "RRD": 5, "FAW": 24, "CCD": 4,
    "WL": 8, "WR": 12, "WTR": 6, "RTP": 6, "RFC": 88, "REFI": 6240,
}  # fmt: skip
DDR3_CURRENTS = {
    "idd0": 70, "idd2n": 45, "idd3n": 45, "idd4r": 140, "idd4w": 145, "idd5": 170,
    "idd2p0": 12, "idd2p1": 30, "idd3p0": 35, "idd6": 8,
}  # fmt: skip
REQUIRED_TIMINGS = (
    "CL", "RCD", "RP", "RAS", "RC", "RRD", "FAW", "CCD", "WL", "WR", "WTR", "RTP", "RFC", "REFI",
    "XP", "XS", "CKE", "RTRS", "AL",
)  # fmt: skip


# -- presets --------------------------------------------------------------------------
def test_presets_are_listed_and_load_by_name_or_id():
    assert list_memspecs() == ("ddr3-1600", "ddr4-2400", "ddr4-2400-2r", "lpddr4-3200", "lpddr4-3200-2ch", "hbm2-2000")
    assert load_memspec().name == "ddr3-1600"
    assert load_memspec("DDR4-2400").name == "ddr4-2400"
    assert load_memspec("micron_1gb_ddr3-1600_8bit_g").name == "ddr3-1600"
    assert load_memspec(" MICRON_8Gb_DDR4-2400_8bit_B ").memory_type == "DDR4"
    assert load_memspec("JEDEC_8Gb_LPDDR4-3200_16bit").name == "lpddr4-3200"


def test_presets_are_cached_but_independent_copies():
    first = load_memspec("ddr3-1600")
    first.timings["CL"] = 99
    assert load_memspec("ddr3-1600").timings["CL"] == 10
    assert load_memspec("ddr3-1600") == load_memspec("ddr3-1600")
    assert hash(load_memspec("ddr3-1600")) == hash(load_memspec("ddr3-1600"))


def test_ddr3_preset_has_the_reference_values():
    spec = load_memspec("ddr3-1600")
    assert spec.memory_type == "DDR3" and spec.memory_id == "MICRON_1Gb_DDR3-1600_8bit_G"
    assert spec.clock_mhz == 800.0 and spec.tck_ns == pytest.approx(1.25)
    organisation = (spec.channels, spec.ranks, spec.banks, spec.bank_groups, spec.rows, spec.columns)
    assert organisation == (1, 1, 8, 1, 16384, 1024)
    assert (spec.device_width, spec.devices, spec.burst_length, spec.data_rate) == (8, 8, 8, 2)
    assert {key: spec.timings[key] for key in DDR3_TIMINGS} == DDR3_TIMINGS
    assert {key: spec.currents[key] for key in DDR3_CURRENTS} == DDR3_CURRENTS
    assert spec.vdd == 1.5 and spec.vpp is None
    assert spec.bus_bytes == 8 and spec.burst_cycles == 4 and spec.bytes_per_burst == 64
    assert spec.page_bytes == 8192 and spec.capacity_bytes == 1 << 30
    assert "Micron" in spec.source


def test_ddr3_preset_matches_the_reference_memspec_file(shared_reference_dir):
    document = json.loads((shared_reference_dir / "MICRON_1Gb_DDR3-1600_8bit_G.json").read_text())
    reference = MemSpec.from_dramsys_json(document, name="ddr3-1600")
    ours = load_memspec("ddr3-1600")
    assert ours.timings == reference.timings
    assert ours.currents == reference.currents
    assert (ours.clock_mhz, ours.vdd, ours.banks, ours.rows, ours.columns) == (
        reference.clock_mhz,
        reference.vdd,
        reference.banks,
        reference.rows,
        reference.columns,
    )


def test_ddr4_preset_is_sane():
    spec = load_memspec("ddr4-2400")
    assert spec.memory_type == "DDR4"
    assert spec.tck_ns == pytest.approx(0.833, abs=0.001)
    assert (spec.banks, spec.bank_groups, spec.banks_per_group) == (16, 4, 4)
    assert (spec.rows, spec.columns, spec.devices, spec.device_width, spec.burst_length) == (
        65536,
        1024,
        8,
        8,
        8,
    )
    assert spec.bus_bytes == 8 and spec.burst_cycles == 4 and spec.capacity_bytes == 8 << 30
    t = spec.timings
    assert t["RC"] == t["RAS"] + t["RP"]
    assert (t["CL"], t["RCD"], t["RP"]) == (16, 16, 16)
    # JEDEC DDR4-2400R in nanoseconds, rounded up to cycles.
    for key, ns in {"RCD": 13.32, "RAS": 32, "RFC": 350, "REFI": 7800, "WR": 15, "FAW": 21}.items():
        assert t[key] == int(np.ceil(ns / spec.tck_ns - 1e-6)), key
    assert t["RRD_S"] <= t["RRD_L"] and t["CCD_S"] <= t["CCD_L"] and t["WTR_S"] <= t["WTR_L"]
    assert (t["RRD"], t["CCD"], t["WTR"]) == (t["RRD_S"], t["CCD_S"], t["WTR_S"])
    assert set(REQUIRED_TIMINGS) <= set(t)
    currents = spec.currents
    assert currents["idd4r"] > currents["idd3n"] > currents["idd2n"] > currents["idd2p1"] > 0
    assert currents["idd0"] > currents["idd3n"] and {"ipp0", "ipp3n"} <= set(currents)
    assert spec.vdd == 1.2 and spec.vpp == 2.5
    assert "JESD79-4" in spec.source and "MT40A1G8" in spec.source


def test_lpddr4_preset_is_sane():
    spec = load_memspec("lpddr4-3200")
    assert spec.memory_type == "LPDDR4" and spec.tck_ns == pytest.approx(0.625)
    assert (spec.banks, spec.bank_groups, spec.rows, spec.columns, spec.device_width, spec.devices) == (
        8, 1, 65536, 1024, 16, 1,
    )  # fmt: skip
    assert spec.burst_length == 16 and spec.burst_cycles == 8 and spec.bytes_per_burst == 32
    assert spec.capacity_bytes == 1 << 30  # 8 Gb
    t = spec.timings
    # JEDEC LPDDR4-3200 (8Gb per channel) in nanoseconds, rounded up to cycles.
    for key, ns in {"RCD": 18, "RPPB": 18, "RPAB": 21, "RAS": 42, "RFCAB": 280, "RFCPB": 140, "FAW": 40}.items():
        assert t[key] == int(np.ceil(ns / spec.tck_ns - 1e-6)), key
    assert t["RCPB"] == t["RAS"] + t["RPPB"] and t["RCAB"] == t["RAS"] + t["RPAB"]
    assert t["REFI"] == 8 * t["REFIPB"] + 6  # tREFIpb is tREFI / 8, each rounded up
    # The plain keys the models read: per-bank precharge and row cycle, all-bank refresh.
    assert (t["RP"], t["RC"], t["RFC"]) == (t["RPPB"], t["RCPB"], t["RFCAB"])
    currents = spec.currents
    assert spec.vdd == 1.8 and spec.vdd2 == 1.1 and spec.vpp is None
    assert currents["idd4r2"] > currents["idd3n2"] > currents["idd2n2"] > 0 and "ipp0" not in currents
    assert "JESD209-4" in spec.source


def test_lpddr4_memspec_in_dramsys_layout_without_devices_on_dimm(tmp_path):
    # DRAMSys's own LPDDR4 memspecs name no devices on a DIMM: one device is meant.
    document = load_memspec("lpddr4-3200").to_dramsys_json()
    del document["memspec"]["memarchitecturespec"]["nbrOfDevicesOnDIMM"]
    document["memspec"]["memoryId"] = "CUSTOM_LPDDR4"
    path = tmp_path / "lpddr4.json"
    path.write_text(json.dumps(document))
    spec = load_memspec(path)
    assert spec.devices == 1 and spec.memory_type == "LPDDR4"
    del document["memspec"]["memtimingspec"]["RPPB"]
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match=r"missing key 'memspec.memtimingspec.RPPB'"):
        load_memspec(path)


def test_hbm2_preset_is_sane():
    spec = load_memspec("hbm2-2000")
    assert spec.memory_type == "HBM2" and spec.tck_ns == pytest.approx(1.0)
    assert (spec.ranks, spec.banks, spec.bank_groups, spec.rows, spec.columns, spec.device_width) == (
        2, 16, 4, 32768, 128, 64,
    )  # fmt: skip
    assert spec.bytes_per_burst == 32 and spec.burst_cycles == 2 and spec.page_bytes == 1024
    assert spec.capacity_bytes == 1 << 30  # one channel of an 8 GB (8-high, 8 Gb) stack
    t = spec.timings
    assert t["RC"] == t["RAS"] + t["RP"] and t["RCDWR"] < t["RCDRD"]
    assert (t["RCD"], t["RRD"], t["CCD"], t["WTR"]) == (t["RCDRD"], t["RRDS"], t["CCDS"], t["WTRS"])
    assert t["RRDS"] <= t["RRDL"] and t["CCDS"] <= t["CCDL"] and t["WTRS"] <= t["WTRL"]
    # No public IDD values: no power section, so no currents and no supply.
    assert not spec.has_power and spec.currents == {} and spec.vdd is None
    assert "mempowerspec" not in spec.to_dramsys_json()["memspec"]
    assert load_memspec("hbm2-2000") == load_memspec("hbm2-2000")


def test_hbm2_mapping_puts_pseudo_channels_above_the_banks():
    spec = load_memspec("hbm2-2000")
    mapping = default_address_mapping(spec)
    mapping.check(spec)
    assert mapping.byte_bits == (0, 1, 2) and mapping.column_bits == tuple(range(3, 10))
    assert mapping.bank_bits == (10, 11, 12, 13) and mapping.rank_bits == (14,)
    assert mapping.row_bits == tuple(range(15, 30))
    layout = mapping.to_dramsys_json()["CONGEN"]
    assert layout["RANK_BIT"] == [14] and layout["BANKGROUP_BIT"] == [12, 13]
    assert AddressMapping.from_dramsys_json(mapping.to_dramsys_json()) == mapping
    # Banks are numbered over the channel: bank + pseudo channel * 16.
    bank, row, _ = mapping.decode([(7 << 15) | (1 << 14) | (5 << 10)])
    assert bank.tolist() == [21] and row.tolist() == [7]
    ddr3 = load_memspec("ddr3-1600")
    with pytest.raises(ConfigurationError, match=r"1 rank bits \(2 values\) but memspec 'ddr3-1600' needs 1"):
        dataclasses.replace(default_address_mapping(ddr3), rank_bits=(30,)).check(ddr3)


def test_two_channel_mapping_alternates_pages_between_the_channels():
    spec = load_memspec("lpddr4-3200-2ch")
    assert spec.channels == 2 and spec.capacity_bytes == 2 * load_memspec("lpddr4-3200").capacity_bytes
    mapping = default_address_mapping(spec)
    mapping.check(spec)
    assert mapping.column_bits == tuple(range(1, 11)) and mapping.channel_bits == (11,)
    assert mapping.bank_bits == (12, 13, 14) and mapping.row_bits == tuple(range(15, 31))
    assert mapping.to_dramsys_json()["CONGEN"]["CHANNEL_BIT"] == [11]
    assert AddressMapping.from_dramsys_json(mapping.to_dramsys_json()) == mapping
    page = 1 << 11
    # Banks are numbered over the channels (bank + channel * 8): pages 0 and 2 are in channel 0 (banks 0
    # and 1), page 1 in channel 1.
    bank, _, _ = mapping.decode([0, page - 1, page, 2 * page, (5 << 12) | page])
    assert bank.tolist() == [0, 0, 8, 1, 13]
    single = load_memspec("lpddr4-3200")
    with pytest.raises(ConfigurationError, match=r"1 channel bits \(2 values\) but memspec .* needs 1"):
        mapping.check(single)
    with pytest.raises(ConfigurationError, match="CONGEN.XOR is not supported"):
        AddressMapping.from_dramsys_json({"CONGEN": {**mapping.to_dramsys_json()["CONGEN"], "XOR": [[11, 15]]}})


LPDDR4_REQUIRED_TIMINGS = (
    "RL", "WL", "RCD", "RPPB", "RPAB", "RAS", "RCPB", "RCAB", "RRD", "FAW", "CCD", "WR", "WTR", "RTP", "PPD",
    "REFI", "REFIPB", "RFCAB", "RFCPB", "DQSCK", "DQSS", "DQS2DQ", "WPRE", "RPST", "XP", "XSR", "RTRS",
)  # fmt: skip


HBM2_REQUIRED_TIMINGS = (
    "RL", "WL", "RCDRD", "RCDWR", "RP", "RAS", "RC", "CCDL", "CCDS", "RRDL", "RRDS", "FAW", "WR", "RTP", "WTRL",
    "WTRS", "RTW", "RFC", "REFI", "RFCSB", "REFISB", "RREFD", "XP", "XS", "DQSCK", "PL",
)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("ddr3-1600", REQUIRED_TIMINGS),
        ("ddr4-2400", REQUIRED_TIMINGS),
        ("ddr4-2400-2r", REQUIRED_TIMINGS),
        ("lpddr4-3200", LPDDR4_REQUIRED_TIMINGS),
        ("lpddr4-3200-2ch", LPDDR4_REQUIRED_TIMINGS),
        ("hbm2-2000", HBM2_REQUIRED_TIMINGS),
    ],
)
def test_preset_files_use_the_dramsys_layout(name, required):
    resource = importlib.resources.files("archgym.simulators.dram").joinpath("memspecs", f"{name}.json")
    document = json.loads(resource.read_text())
    assert set(document) == {"memspec", "source"}
    spec = document["memspec"]
    assert {"memarchitecturespec", "memoryId", "memoryType", "memtimingspec"} <= set(spec)
    assert ("mempowerspec" in spec) == (name != "hbm2-2000")
    # DRAMSys parses timings as unsigned integers.
    for key, value in spec["memtimingspec"].items():
        assert isinstance(value, int) and value >= 0, key
    assert load_memspec(name).to_dramsys_json() == document
    for key in required:
        assert key in load_memspec(name).timings


# -- loading files -------------------------------------------------------------------------
def test_load_memspec_from_a_path(tmp_path):
    document = load_memspec("ddr4-2400").to_dramsys_json()
    document["memspec"]["memoryId"] = "CUSTOM"
    document["memspec"]["memtimingspec"]["CL"] = 17
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(document))
    spec = load_memspec(path)
    assert spec.name == "CUSTOM" and spec.timings["CL"] == 17
    assert load_memspec(str(path)).timings["CL"] == 17


def test_load_memspec_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="ddr3-1600, ddr4-2400, ddr4-2400-2r, lpddr4-3200, lpddr4-3200-2ch, hbm2-2000"):
        load_memspec("ddr5-4800")
    with pytest.raises(ConfigurationError, match="missing.json"):
        load_memspec(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError, match="bad.json.*not valid JSON"):
        load_memspec(bad)

    document = load_memspec("ddr3-1600").to_dramsys_json()
    del document["memspec"]["memtimingspec"]["RCD"]
    bad.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match=r"bad.json: missing key 'memspec.memtimingspec.RCD'"):
        load_memspec(bad)

    document = load_memspec("ddr3-1600").to_dramsys_json()
    document["memspec"]["memtimingspec"]["CL"] = 10.5
    bad.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match=r"memspec.memtimingspec.CL must be an integer"):
        load_memspec(bad)

    document["memspec"]["memoryType"] = "GDDR6"
    bad.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match="GDDR6.*DDR3, DDR4, LPDDR4, HBM2"):
        load_memspec(bad)


# -- address mapping --------------------------------------------------------------------------
def test_default_ddr3_mapping_is_rbc():
    mapping = default_address_mapping(load_memspec("ddr3-1600"))
    assert mapping.byte_bits == (0, 1, 2)
    assert mapping.column_bits == tuple(range(3, 13))
    assert mapping.bank_bits == (13, 14, 15)
    assert mapping.row_bits == tuple(range(16, 30))
    assert mapping.n_bank_group_bits == 0


def test_default_ddr3_mapping_matches_the_reference_file(shared_reference_dir):
    path = shared_reference_dir / "am_ddr3_8x1Gbx8_dimm_p1KB_rbc.json"
    reference = load_address_mapping(path)
    assert reference == default_address_mapping(load_memspec("ddr3-1600"))
    assert reference.to_dramsys_json() == json.loads(path.read_text())


def test_decode_hand_made_addresses():
    mapping = default_address_mapping(load_memspec("ddr3-1600"))
    bank, row, column = [5, 0, 7, 3], [1234, 0, 16383, 1], [17, 0, 1023, 1]
    addresses = np.array(
        [(r << 16) | (b << 13) | (c << 3) | 5 for b, r, c in zip(bank, row, column)], np.uint64
    )
    decoded = mapping.decode(addresses)
    assert [d.tolist() for d in decoded] == [bank, row, column]
    assert all(d.dtype == np.int64 for d in decoded)
    # Consecutive 64-byte requests stay in one row of one bank for a whole 8 KB page.
    b, r, c = mapping.decode(np.arange(0, 8192 * 2, 64, dtype=np.uint64))
    assert b.tolist() == [0] * 128 + [1] * 128 and set(r.tolist()) == {0}
    assert c[:3].tolist() == [0, 8, 16]


def test_ddr4_mapping_flattens_bank_groups():
    spec = load_memspec("ddr4-2400")
    mapping = default_address_mapping(spec)
    mapping.check(spec)
    assert mapping.bank_bits == (13, 14, 15, 16) and mapping.bank_group_bits == (15, 16)
    assert mapping.row_bits == tuple(range(17, 33))
    layout = mapping.to_dramsys_json()["CONGEN"]
    assert layout["BANK_BIT"] == [13, 14] and layout["BANKGROUP_BIT"] == [15, 16]
    assert AddressMapping.from_dramsys_json(mapping.to_dramsys_json()) == mapping
    group, bank_in_group, row = 2, 3, 40000
    address = (row << 17) | (group << 15) | (bank_in_group << 13)
    bank, decoded_row, _ = mapping.decode([address])
    assert bank.tolist() == [group * spec.banks_per_group + bank_in_group] and decoded_row.tolist() == [row]


def test_scattered_bits_decode():
    mapping = AddressMapping(byte_bits=(0,), column_bits=(1, 5), bank_bits=(4, 2), row_bits=(3,))
    assert [d.tolist() for d in mapping.decode([0b100110, 0b001001])] == [[2, 0], [0, 1], [3, 0]]


def test_mapping_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="bit 3 is used twice"):
        AddressMapping(byte_bits=(0, 1, 2), column_bits=(3,), bank_bits=(3,), row_bits=())
    with pytest.raises(ConfigurationError, match=r"\[0, 63\]"):
        AddressMapping(byte_bits=(64,), column_bits=(), bank_bits=(), row_bits=())
    with pytest.raises(ConfigurationError, match="n_bank_group_bits"):
        AddressMapping(byte_bits=(), column_bits=(), bank_bits=(1,), row_bits=(), n_bank_group_bits=2)
    with pytest.raises(ConfigurationError, match="memspec 'ddr4-2400' needs 16"):
        default_address_mapping(load_memspec("ddr3-1600")).check(load_memspec("ddr4-2400"))
    path = tmp_path / "am.json"
    path.write_text(json.dumps({"CONGEN": {"BYTE_BIT": [0], "COLUMN_BIT": [1], "ROW_BIT": [2]}}))
    with pytest.raises(ConfigurationError, match=r"am.json: missing key 'CONGEN.BANK_BIT'"):
        load_address_mapping(path)
    path.write_text(json.dumps({"CONGEN": {"XOR": [{"FIRST": 13, "SECOND": 16}], "BANK_BIT": [13]}}))
    with pytest.raises(ConfigurationError, match="XOR is not supported"):
        load_address_mapping(path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_address_mapping(tmp_path / "none.json")
