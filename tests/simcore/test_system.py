"""Systems of chips in the engines: hierarchical routes, chip-to-chip traffic and energy.

The route latency and energy of a message between chips are checked against a closed form
written from the system file's numbers; the fast engine against the SimPy reference engine on
networks spread over three chips; one network on one chip against the same network spread over
an 8-chip board (identical spikes in timestep mode); and a network three times larger than one
``loihi_like`` chip on the ``loihi2_board_like`` board in both modes, down to ``aersim report``;
and the concurrent receive timeline against the reference engine, on one chip and between chips.
"""

import dataclasses
import json

import numpy as np
import pytest

from aersim.hardware import MappingError, load_chip, map_network
from aersim.models import InputParams, LIFParams, Network
from aersim.models.generators import ff_network, random_network
from aersim.simcore import PoissonInput, RunConfig, Simulation, SpikeTrains
from aersim.simcore.engine.reference import run_reference
from tests.simcore.helpers import SMALL_CHIP, SYSTEM

MS = 1_000_000_000


@pytest.fixture
def system(tmp_path):
    (tmp_path / "small.yaml").write_text(SMALL_CHIP)
    (tmp_path / "three.yaml").write_text(SYSTEM)
    return load_chip(tmp_path / "three.yaml")


def test_system_loads_as_a_chip(system):
    assert system.n_chips == 3 and system.n_cores == 12 and system.n_tiles == 12
    assert system.chip_labels == ("a/0", "a/1", "a/2")
    assert len(system.links) == 2 and system.n_links == 4
    assert system.chip_path(0, 2) == (0, 2) and system.chip_path(2, 0) == (3, 1)
    assert "system three: 3 chips of small" in system.summary()


def test_message_between_chips_matches_the_closed_form(system, tmp_path):
    """One spike from chip 0's tile (0, 0) to chip 2's tile (1, 1), timed and priced by hand."""
    net = Network()
    net.add_population("input", 1, InputParams())
    net.add_population("lif", 1, LIFParams(v_th=100.0))
    net.connect("input", "lif", [0], [0], 1.0, 0)
    placement = tmp_path / "placement.json"
    placement.write_text(json.dumps({"input": 0, "lif": 2 * 4 + 3}))
    sim = Simulation(net, system, mapping=map_network(net, system, str(placement)),
                     config=RunConfig(mode="timestep", dt_ps=MS // 10, record_messages=True),
                     stimuli=[SpikeTrains("input", [0], [0])])
    res = sim.run(duration_ps=MS // 10)
    # From the YAML: spike_out 30 + message_out 5.1; router 2.1; one hop east to the port tile
    # (1, 0) at 4.1; two board links, each 30 + (32 + 8) bits / 4 Gbit/s = 10, then the entered
    # chip's router 2.1; one hop south from the port tile to (1, 1) at 6.5 ns.
    arrive_ns = 30 + 5.1 + 2.1 + 4.1 + 2 * (30 + 40 / 4 + 2.1) + 6.5
    assert res.messages.shape[0] == 1
    assert res.messages[0, 1] == round(arrive_ns * 1000)
    ops = res.op_totals()
    assert (ops["chip_link"], ops["router"], ops["hop_east"], ops["hop_south"]) == (2, 3, 1, 1)
    link_pj = (32 + 8) * 2.5
    np.testing.assert_allclose(res.ledger.by_link_j[[0, 2]], link_pj * 1e-12)
    assert res.ledger.by_link_j.sum() == pytest.approx(2 * link_pj * 1e-12)
    assert res.ledger.by_op_j()["chip_link"] == pytest.approx(2 * link_pj * 1e-12)
    used = res.chip_links[res.chip_links["packets"] > 0]
    assert used["from_chip"].tolist() == [0, 1] and used["to_chip"].tolist() == [1, 2]
    assert used["bits"].tolist() == [40, 40] and used["busy_ps"].tolist() == [10_000, 10_000]
    # The neurons span two chips: the step ends after the message's service, plus the chip's
    # barrier and the system's share.
    end_ns = arrive_ns + 16.0 + 3.5
    assert res.step_duration_ps[0] == round((end_ns + 113.0 + 500.0) * 1000)


@pytest.mark.parametrize("mode", ["timestep", "async"])
def test_engine_agrees_with_the_reference_across_chips(system, mode):
    net = random_network(n_neurons=36, n_inputs=8, p_connect=0.15, seed=4)
    for proj in net.projections:
        proj.weights[:] = np.round(proj.weights * 64) / 64
    mapping = map_network(net, system, "balanced")
    assert np.unique(system.chip_of_core(mapping.core_of)).size == 3
    rng = np.random.default_rng(1)
    n_in = rng.poisson(300.0 * 8 * 0.02)
    stim = SpikeTrains("input", rng.integers(0, 20 * MS, n_in), rng.integers(0, 8, n_in))
    cfg = RunConfig(mode=mode, seed=0, record_messages=True)
    sim = Simulation(net, system, mapping=mapping, config=cfg, stimuli=[stim])
    fast = sim.run(duration_ps=20 * MS)
    ref = run_reference(net, system, mapping, cfg, [stim], 20 * MS)
    assert fast.n_spikes > 0 and fast.op_totals()["chip_link"] > 0
    np.testing.assert_array_equal(fast.spikes_t_ps, ref.spikes_t_ps)
    np.testing.assert_array_equal(fast.spikes_neuron, ref.spikes_neuron)
    np.testing.assert_array_equal(fast.messages, ref.messages)
    np.testing.assert_array_equal(fast.counts, ref.counts)
    np.testing.assert_array_equal(fast.step_duration_ps, ref.step_duration_ps)
    np.testing.assert_array_equal(sim.chip_tables.link_stats, ref.chip_links)


def test_one_chip_and_the_board_spike_alike_in_timestep_mode():
    net = ff_network(n_input=500, layer_size=1500, n_layers=3, fan_in=40, w_mean_mv=1.5, seed=2)
    stim = [PoissonInput("input", 80.0)]
    cfg = RunConfig(mode="timestep", seed=5)
    one = Simulation(net, "loihi_like", config=cfg, stimuli=stim).run(0.02)
    board_sim = Simulation(net, "loihi2_board_like", config=cfg, stimuli=stim,
                           strategy="balanced")
    assert np.unique(board_sim.chip.chip_of_core(board_sim.mapping.core_of)).size == 8
    board = board_sim.run(0.02)
    assert one.n_spikes > 1000
    np.testing.assert_array_equal(one.spikes_t_ps, board.spikes_t_ps)
    np.testing.assert_array_equal(one.spikes_neuron, board.spikes_neuron)
    assert board.chip_links["packets"].sum() > 0 and board.ledger.by_link_j.sum() > 0
    # The board pays for its links and longer routes (its steps are shorter: 8 times the cores).
    assert board.ledger.dynamic_j > one.ledger.dynamic_j


def test_mapper_keeps_populations_on_chips_and_minimises_links():
    board = load_chip("loihi2_board_like")
    net = ff_network(n_input=8192, layer_size=100_000, n_layers=3, fan_in=4, seed=0)
    mapping = map_network(net, board)
    chips = board.chip_of_core(mapping.core_of)
    for name, pop in net.populations.items():
        lo = net.offset(name)
        assert np.unique(chips[lo:lo + pop.size]).size == 1, name
    # Each layer sits next to the one it feeds: on the same chip or one link away.
    first = [int(chips[net.offset(n)]) for n in net.populations]
    for a, b in zip(first, first[1:], strict=False):
        assert len(board.chip_path(a, b)) <= 1


def test_network_that_fits_no_system_says_how_many_chips():
    net = Network()
    net.add_population("input", 100, InputParams())
    net.add_population("big", 9 * 131_072, LIFParams())
    with pytest.raises(MappingError, match=r"would need 10 chips of 'loihi_like'"):
        map_network(net, load_chip("loihi2_board_like"))
    with pytest.raises(MappingError, match=r"would need 10 chips"):
        map_network(net, load_chip("loihi_like"))


def test_three_chip_network_on_the_board_in_both_modes(tmp_path, capsys):
    """401,408 neurons: 3.06 times one loihi_like chip (131,072)."""
    from aersim.simcore.cli.main import main
    from aersim.traces import TraceWriter

    net = ff_network(n_input=8192, layer_size=131_072, n_layers=3, fan_in=8, w_mean_mv=3.0,
                     seed=1)
    assert net.n_neurons > 3 * load_chip("loihi_like").n_cores * 1024
    with pytest.raises(MappingError):
        map_network(net, load_chip("loihi_like"))
    for mode in ("timestep", "async"):
        sim = Simulation(net, "loihi2_board_like", config=RunConfig(mode=mode, seed=3),
                         stimuli=[PoissonInput("input", 200.0)])
        assert np.unique(sim.chip.chip_of_core(sim.mapping.core_of)).size >= 4
        path = tmp_path / f"{mode}.h5"
        trace = TraceWriter(path, metadata={"mode": mode, "chip": "loihi2_board_like",
                                            "chip_labels": list(sim.chip.chip_labels)})
        res = sim.run(0.002, trace=trace)
        res.write_totals(trace)
        trace.close()
        assert res.n_spikes > 0
        packets = int(res.chip_links["packets"].sum())
        assert packets == res.op_totals()["chip_link"] > 0
        assert res.ledger.by_op_j()["chip_link"] == pytest.approx(res.ledger.by_link_j.sum())
        assert "chip-to-chip" in res.summary()
        capsys.readouterr()
        assert main(["report", str(path)]) == 0
        out = capsys.readouterr().out
        assert "chip-to-chip links" in out and f"{packets} packets" in out
        assert "kp/0->kp/1" in out or "kp/1->kp/2" in out


def test_system_file_with_a_relative_chip_path_and_cli_info(system, tmp_path, capsys):
    from aersim.simcore.cli.main import main

    assert main(["info", str(tmp_path / "three.yaml")]) == 0
    out = capsys.readouterr().out
    assert "system three: 3 chips of small" in out and "board 4 Gbit/s" in out
    assert main(["info", "spinnaker2_board_like"]) == 0
    assert "48 chips of spinnaker2_like" in capsys.readouterr().out


def test_spinnaker2_board_layout():
    b = load_chip("spinnaker2_board_like")
    assert b.n_chips == 48
    degree = np.bincount(np.array([c for a, bb, _ in b.links for c in (a, bb)]), minlength=48)
    assert degree.max() == 6 and degree.min() >= 2
    assert b.chip_labels[47] == "board/47"


def _with_contention(system, buffer_flits=4):
    import dataclasses
    noc = dataclasses.replace(system.noc, contention=True, cycle_ps=1000, flit_bits=32,
                              buffer_flits=buffer_flits)
    return dataclasses.replace(system, noc=noc)


def test_contention_on_chip_to_chip_links_agrees_with_the_simpy_network(system):
    from aersim.simcore.engine.hardware_model import simulate_noc
    from aersim.simcore.engine.reference_noc import simulate_noc_reference

    s = _with_contention(system)
    rng = np.random.default_rng(0)
    n = 300
    t, src, dst = rng.integers(0, 40_000, n), rng.integers(0, 12, n), rng.integers(0, 12, n)
    fast = simulate_noc(s, t, src, dst)
    ref = simulate_noc_reference(s, t, src, dst)
    np.testing.assert_array_equal(fast.packet, ref.packet)
    np.testing.assert_array_equal(fast.t_ps, ref.t_ps)
    for name in ("packets", "flits", "busy_ps", "max_queue_flits", "blocked_ps"):
        np.testing.assert_array_equal(getattr(fast.links, name), getattr(ref.links, name), name)
    c2c = fast.links.port >= 4 + s.cores_per_tile
    assert fast.links.packets[c2c].sum() > 0 and fast.links.blocked_ps.sum() > 0
    # A chip-to-chip port is busy for the link's serialisation, (32 + 8) bits / 4 Gbit/s.
    np.testing.assert_array_equal(fast.links.busy_ps[c2c], fast.links.packets[c2c] * 10_000)


def test_one_packet_between_chips_takes_the_zero_load_time(system):
    from aersim.hardware.system import message_routes
    from aersim.simcore.engine.hardware_model import simulate_noc

    s = _with_contention(system)
    for src, dst in ((0, 11), (3, 8), (9, 2), (4, 1)):
        run = simulate_noc(s, [1000], [src], [dst])
        latency = message_routes(system, [src], [dst])[0][0]
        assert run.t_ps[0] == 1000 + latency, (src, dst)


@pytest.mark.parametrize("mode", ["timestep", "async"])
def test_engine_with_contention_on_a_system(system, mode):
    net = random_network(n_neurons=36, n_inputs=8, p_connect=0.3, w_exc=0.5, seed=4)
    mapping = map_network(net, system, "balanced")
    stim = [PoissonInput("input", 400.0)]
    cfg = RunConfig(mode=mode, seed=2, record_messages=True)
    free = Simulation(net, system, mapping=mapping, config=cfg, stimuli=stim).run(0.01)
    busy = Simulation(net, _with_contention(system, 1), mapping=mapping, config=cfg,
                      stimuli=stim).run(0.01)
    assert busy.op_totals()["chip_link"] > 0
    # The network's counters of each chip-to-chip port agree with the link table: port k of
    # chip a (at its port tile) sends on a's k-th outgoing link.
    n_ports = 4 + system.cores_per_tile + 2
    for d in range(system.n_links):
        a = system.directed_link(d)[0]
        k = [e for e in range(system.n_links) if system.directed_link(e)[0] == a].index(d)
        row = (a * 4 + system.port_tile) * n_ports + 4 + system.cores_per_tile + k
        assert busy.links.packets[row] == busy.chip_links["packets"][d]
    if mode == "timestep":
        np.testing.assert_array_equal(free.spikes_neuron, busy.spikes_neuron)
        # Packets only wait longer in a loaded network: no step gets shorter.
        assert (busy.step_duration_ps >= free.step_duration_ps).all()
        assert busy.links.blocked_ps.sum() > 0


def test_cli_run_on_a_board_with_messages_and_report(tmp_path, capsys):
    from aersim.simcore.cli.main import main
    from aersim.traces import read_trace

    out = tmp_path / "run.h5"
    assert main(["run", "random", "--chip", "loihi2_board_like", "--strategy", "balanced",
                 "--duration", "0.005", "--out", str(out), "--no-plots", "--no-progress",
                 "--messages"]) == 0
    tr = read_trace(out)
    assert tr.chip_links is not None and tr.chip_links["packets"].sum() > 0
    assert tr.metadata["n_chips"] == 8 and tr.metadata["chip_labels"][7] == "kp/7"
    cross = tr.messages["src_core"] // 128 != tr.messages["dst_core"] // 128
    assert cross.any() and (tr.messages["hops"] >= 0).all()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert "chip-to-chip links" in capsys.readouterr().out
    from aersim.traces.output.plots import plot_all
    paths = plot_all(tr, tmp_path / "plots")
    assert (tmp_path / "plots" / "chip_links.png") in paths


def _sorted_log(messages):
    """The message log by (arrival, message): the concurrent timeline logs in departure order."""
    return messages[np.lexsort((messages[:, 0], messages[:, 1]))]


@pytest.mark.parametrize("on_system", [False, True])
def test_concurrent_receive_agrees_with_the_reference(tmp_path, on_system):
    """``core.receive: concurrent`` on one chip and between chips of a system: each core
    serves its messages beside its update pass, in order of departure."""
    (tmp_path / "small.yaml").write_text(SMALL_CHIP.replace(
        "core:\n", "core:\n  receive: concurrent\n"))
    (tmp_path / "three.yaml").write_text(SYSTEM)
    chip = load_chip(tmp_path / ("three.yaml" if on_system else "small.yaml"))
    assert chip.core.receive == "concurrent"
    net = random_network(n_neurons=36 if on_system else 40, n_inputs=8, p_connect=0.15,
                         seed=4)
    for proj in net.projections:
        proj.weights[:] = np.round(proj.weights * 64) / 64
    if not on_system:       # 48 neurons on one chip of four 16-neuron cores
        chip = dataclasses.replace(chip, core=dataclasses.replace(chip.core, neurons=16))
    mapping = map_network(net, chip, "balanced")
    rng = np.random.default_rng(1)
    n_in = rng.poisson(300.0 * 8 * 0.02)
    stim = SpikeTrains("input", rng.integers(0, 20 * MS, n_in), rng.integers(0, 8, n_in))
    cfg = RunConfig(mode="timestep", seed=0, record_messages=True)
    sim = Simulation(net, chip, mapping=mapping, config=cfg, stimuli=[stim])
    fast = sim.run(duration_ps=20 * MS)
    ref = run_reference(net, chip, mapping, cfg, [stim], 20 * MS)
    assert fast.n_spikes > 50 and fast.messages.shape[0] > 200
    assert (fast.op_totals()["chip_link"] > 0) == on_system
    np.testing.assert_array_equal(fast.spikes_t_ps, ref.spikes_t_ps)
    np.testing.assert_array_equal(fast.spikes_neuron, ref.spikes_neuron)
    np.testing.assert_array_equal(_sorted_log(fast.messages), ref.messages)
    np.testing.assert_array_equal(fast.counts, ref.counts)
    np.testing.assert_array_equal(fast.step_duration_ps, ref.step_duration_ps)
    if on_system:
        np.testing.assert_array_equal(sim.chip_tables.link_stats, ref.chip_links)
    # The receive model is in effect: the same spikes, other step lengths than with the serial
    # receive (shorter where receiving overlaps the update pass, longer where a message that
    # left earlier but arrives later holds up the ones behind it).
    serial = dataclasses.replace(chip, core=dataclasses.replace(chip.core, receive="serial"))
    if on_system:
        serial = dataclasses.replace(serial, member=dataclasses.replace(
            chip.member, core=serial.core))
    slow = Simulation(net, serial, mapping=mapping, config=cfg, stimuli=[stim]).run(
        duration_ps=20 * MS)
    np.testing.assert_array_equal(slow.spikes_neuron, fast.spikes_neuron)
    assert np.any(fast.step_duration_ps != slow.step_duration_ps)


def test_flow_congestion_between_chips_is_refused(tmp_path):
    from aersim.hardware import ChipSpecError

    (tmp_path / "small.yaml").write_text(
        SMALL_CHIP.replace("core:\n", "core:\n  receive: concurrent\n")
        .replace("noc:\n", "noc:\n  congestion: flow\n  buffer_flits: 16\n  flit_bits: 32\n"))
    (tmp_path / "three.yaml").write_text(SYSTEM)
    assert load_chip(tmp_path / "small.yaml").noc.congestion == "flow"
    with pytest.raises(ChipSpecError, match=r"three.yaml: chip = 'small.yaml' uses "
                                            r"noc.congestion: flow"):
        load_chip(tmp_path / "three.yaml")
