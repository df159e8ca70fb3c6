"""Sweeps over systems of chips: a system file (or preset) as the base chip, its keys as axes,
chip-to-chip link columns per point, and bad keys refused before any point runs."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from aersim.hardware import load_chip
from aersim.simcore import RunConfig, Simulation
from aersim.simcore.run.catalog import builtin_run
from aersim.simcore.sweep.runner import run_point
from aersim.simcore.sweep.spec import SweepSpecError, load_spec
from aersim.simcore.sweep.table import SYSTEM_COLUMNS, table_columns
from tests.simcore.helpers import SMALL_CHIP, SYSTEM

# The three-chip system of test_system.py: 2 x 2 tiles of one 16-neuron core per chip,
# board links of 4 Gbit/s, 30 ns, 8 overhead bits on 32-bit packets.
DURATION_S = 0.01
RATE_HZ = 300.0


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "small.yaml").write_text(SMALL_CHIP)
    (tmp_path / "three.yaml").write_text(SYSTEM)
    return tmp_path


def spec_of(folder, axes, **base):
    return load_spec({"base": {"network": "random", "chip": str(folder / "three.yaml"),
                               "duration_s": DURATION_S, "strategy": "balanced",
                               "stimulus": {"rate_hz": RATE_HZ}, **base}, "axes": axes})


def direct_run(folder, neurons, latency_ns, bandwidth):
    """The point run without the sweep: the system file edited by hand."""
    chip = yaml.safe_load(SMALL_CHIP)
    chip["core"]["neurons"] = neurons
    (folder / "edited_chip.yaml").write_text(yaml.safe_dump(chip))
    system = yaml.safe_load(SYSTEM)
    system["chip"] = "edited_chip.yaml"
    system["link_types"]["board"].update(latency_ns=latency_ns, bandwidth_gbit_s=bandwidth)
    (folder / "edited.yaml").write_text(yaml.safe_dump(system))
    net, stimuli = builtin_run("random").build(0)
    stimuli = [dataclasses.replace(s, rate_hz=RATE_HZ) for s in stimuli]
    sim = Simulation(net, load_chip(folder / "edited.yaml"), config=RunConfig(seed=0),
                     stimuli=stimuli, strategy="balanced")
    return sim, sim.run(DURATION_S)


def test_system_keys_as_axes_rows_equal_direct_runs(folder):
    spec = spec_of(folder, {"chip.core.neurons": [32],
                            "system.link_types.board.latency_ns": [30.0, 300.0],
                            "system.link_types.board.bandwidth_gbit_s": [1.0, 4.0]})
    assert spec.system and len(spec) == 4
    names = [c for c, _ in table_columns(spec)]
    assert all(c in names for c, _ in SYSTEM_COLUMNS)
    rows = []
    for i in range(len(spec)):
        row, _ = run_point(spec.run_of(i), spec.root)
        assert row["status"] == "ok", row["error"]
        p = spec.points[i]
        sim, res = direct_run(folder, 32, p["system.link_types.board.latency_ns"],
                              p["system.link_types.board.bandwidth_gbit_s"])
        links = res.chip_links
        assert row["spikes"] == res.n_spikes and row["energy_total_j"] == res.ledger.total_j
        assert row["hardware_time_ps"] == res.hardware_time_ps
        assert row["chips_used"] == 3
        assert row["chip_link_packets"] == links["packets"].sum() > 100
        assert row["chip_link_bits"] == links["bits"].sum() == 40 * links["packets"].sum()
        assert row["chip_links_used"] == np.count_nonzero(links["packets"])
        assert row["chip_link_busiest_ps"] == links["busy_ps"].max()
        assert row["energy_chip_link_j"] == pytest.approx(links["energy_j"].sum())
        assert row["energy_chip_link_j"] == pytest.approx(links["bits"].sum() * 2.5e-12)
        rows.append(row)
    near_1g, near_4g, far_1g, far_4g = rows   # grid order: (30 ns, 300 ns) x (1, 4 Gbit/s)
    # Timestep mode: the same spikes and packets whatever the links; a packet of 40 bits holds
    # a link 40 ns at 1 Gbit/s and 10 ns at 4 Gbit/s; longer and slower links lengthen the run.
    assert len({r["chip_link_packets"] for r in rows}) == 1
    assert near_1g["chip_link_busiest_ps"] == 4 * near_4g["chip_link_busiest_ps"]
    assert far_1g["chip_link_busiest_ps"] == near_1g["chip_link_busiest_ps"]
    assert far_1g["hardware_time_ps"] > near_1g["hardware_time_ps"] > near_4g["hardware_time_ps"]
    assert far_4g["hardware_time_ps"] > near_4g["hardware_time_ps"]


def test_system_sweep_on_dask_stores_the_link_columns(folder):
    distributed = pytest.importorskip("distributed")
    from aersim.simcore.sweep.runner import read_sweep, sweep

    spec = spec_of(folder, {"chip.core.neurons": [32],
                            "system.link_types.board.energy_pj_per_bit": [1.0, 10.0]})
    out = folder / "links.h5"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        table = sweep(spec, client=client, out=out)
    stored = read_sweep(out)
    assert list(stored["status"]) == ["ok", "ok"]
    for name, _ in SYSTEM_COLUMNS:
        assert np.array_equal(stored[name], table[name]), name
    cheap, dear = stored
    assert cheap["chip_link_packets"] == dear["chip_link_packets"] > 100
    assert cheap["chip_link_bits"] == 40 * cheap["chip_link_packets"]
    # Energy per packet: 40 bits x 1 or 10 pJ per bit.
    assert cheap["energy_chip_link_j"] == pytest.approx(cheap["chip_link_bits"] * 1e-12)
    assert dear["energy_chip_link_j"] == pytest.approx(10 * cheap["energy_chip_link_j"])


def test_example_board_link_sweep():
    spec = load_spec(Path(__file__).resolve().parents[2] / "examples" /
                     "sweep_board_links.yaml")
    assert spec.system and len(spec) == 12
    row, _ = run_point(spec.run_of(0), spec.root)
    assert row["status"] == "ok", row["error"]
    assert row["chips_used"] == 8 and row["chip_link_packets"] > 10_000
    # 2 Gbit/s links are offered more than they carry (zero-load routes do not queue).
    assert row["chip_link_busiest_util"] > 1


def test_system_preset_as_base():
    spec = load_spec({"base": {"network": "random", "chip": "loihi2_board_like"},
                      "axes": {"system.barrier.latency_ns": [100.0, 1000.0],
                               "system.port.x": [0, 3]}})
    assert spec.system and len(spec) == 4
    assert not load_spec({"axes": {"run.seed": [1, 2]}}).system


def test_member_chip_axis_of_a_preset_system_is_read_beside_the_spec(tmp_path, monkeypatch):
    """``system.chip: mine.yaml`` on a preset system names a file beside the spec, wherever the
    command runs from."""
    from aersim.simcore.sweep.spec import make_chip

    (tmp_path / "mine.yaml").write_text(SMALL_CHIP)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({
        "base": {"network": "random", "chip": "loihi2_board_like", "duration_s": 0.01},
        "axes": {"system.chip": ["mine.yaml"], "chip.core.neurons": [32]}}))
    monkeypatch.chdir(tmp_path.parent)
    spec = load_spec(str(spec_file))
    assert len(spec) == 1
    system = make_chip({"chip": "loihi2_board_like", "system_overrides": {"chip": "mine.yaml"},
                        "chip_overrides": {"core.neurons": 32}}, str(tmp_path))
    assert system.core.neurons == 32 and system.n_chips == 8


@pytest.mark.parametrize("axes, base_chip, match", [
    ({"system.link_types.boar.bandwidth_gbit_s": [2.0]}, None,
     r"axes.system.link_types.boar.bandwidth_gbit_s: 'link_types.boar.bandwidth_gbit_s' is not "
     r"a key of system .* NAME one of board"),
    ({"system.link_types.board.bandwith_gbit_s": [2.0]}, None,
     r"axes.system.link_types.board.bandwith_gbit_s: .* KEY one of bandwidth_gbit_s"),
    ({"system.boards": [1]}, None, r"axes.system.boards: 'boards' is not a key .* one of chip, "
                                   r"port.x"),
    ({"system.link_types.board.latency_ns": [30.0]}, "minimal",
     r"axes.system.link_types.board.latency_ns: system axes need a system of chips as "
     r"base.chip; 'minimal' is a single chip"),
    ({"system.link_types.board.bandwidth_gbit_s": [-1.0]}, None,
     r"system.link_types.board.bandwidth_gbit_s: link_types.board.bandwidth_gbit_s = -1.0 is "
     r"not allowed; expected a bandwidth in Gbit/s > 0"),
    ({"system.port.x": [5]}, None, r"system.port.x: port = \(x 5, y 0\) is outside"),
    ({"system.link_types.board.latency_ns": ["fast"]}, None,
     r"axes.system.link_types.board.latency_ns\[0\] = 'fast' is not allowed; expected a number"),
    ({"chip.core.neurons": [0]}, None, r"axes.chip.core.neurons\[0\] = 0 is not allowed"),
    ({"chip.noc.packet_bits": [64]}, None,
     r"chip.noc.packet_bits: link_types.board.packet_bits = 32 does not match the chip's packet"),
])
def test_bad_system_keys_name_the_spec_file_and_key(folder, axes, base_chip, match):
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": {"network": "random",
                                             "chip": base_chip or "three.yaml"},
                                    "axes": axes}))
    with pytest.raises(SweepSpecError, match=match) as info:
        load_spec(path)
    assert str(info.value).startswith(str(path))
