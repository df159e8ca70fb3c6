"""System files: what loads, and one error naming the file and the key for what does not."""

import pytest

from aersim.hardware import ChipSpecError, load_chip
from aersim.hardware.system import SystemSpec, is_system

GOOD = """\
name: two_boards
chip: loihi_like
link_types:
  board: {bandwidth_gbit_s: 8, latency_ns: 100, energy_pj_per_bit: 5, overhead_bits: 16,
          packet_bits: 32}
  cable: {bandwidth_gbit_s: 2, latency_ns: 400, energy_pj_per_bit: 20}
boards:
  - {name: b0, chips: 4, topology: mesh, width: 2, height: 2, link: board}
  - {name: b1, chips: 4, topology: mesh, width: 2, height: 2, link: board}
links:
  - {between: [b0/3, b1/0], type: cable}
"""


def write(tmp_path, text, name="system.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_two_boards_joined_by_a_cable(tmp_path):
    s = load_chip(write(tmp_path, GOOD))
    assert isinstance(s, SystemSpec) and is_system(s)
    assert s.n_chips == 8 and s.n_cores == 8 * 128 and len(s.links) == 9
    # b0/0 -> b1/3 crosses the cable: b0/0 .. b0/3 (2 links), the cable, b1/0 .. b1/3 (2).
    path = s.chip_path(0, 7)
    assert len(path) == 5
    assert [s.directed_link(d)[2].name for d in path].count("cable") == 1
    assert s.static_power_w == pytest.approx(8 * 0.104)


@pytest.mark.parametrize("change, key", [
    # Unreachable chips: the second board has no link to the first.
    (lambda t: t.replace("links:\n  - {between: [b0/3, b1/0], type: cable}\n", ""), "links"),
    # A link to a chip that does not exist.
    (lambda t: t.replace("[b0/3, b1/0]", "[b0/3, b1/9]"), "links[0].between"),
    (lambda t: t.replace("[b0/3, b1/0]", "[b0/3, b7/0]"), "links[0].between"),
    # Mismatched packet formats: the link carries 40-bit packets, the chip sends 32-bit ones.
    (lambda t: t.replace("packet_bits: 32", "packet_bits: 40"), "link_types.board.packet_bits"),
    (lambda t: t.replace("type: cable", "type: fibre"), "links[0].type"),
    (lambda t: t.replace("chips: 4, topology: mesh, width: 2, height: 2, link: board}\n  - ",
                         "chips: 5, topology: mesh, width: 2, height: 2, link: board}\n  - "),
     "boards[0].chips"),
    (lambda t: t.replace("bandwidth_gbit_s: 2,", "bandwidth_gbit_s: 0,"),
     "link_types.cable.bandwidth_gbit_s"),
    (lambda t: t.replace("chip: loihi_like", "chip: loihi_lik"), "chip"),
    (lambda t: t.replace("name: two_boards", "name: two_boards\nboard: {}"), "board"),
    (lambda t: t + "  - {between: [b1/0, b0/3], type: board}\n", "linked twice"),
])
def test_bad_system_file_is_one_error_naming_file_and_key(tmp_path, change, key):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(ChipSpecError) as info:
        load_chip(path)
    msg = str(info.value)
    assert str(path) in msg and key in msg, msg
    assert "\n" not in msg


def test_duplicate_keys_and_yaml_bombs_are_refused(tmp_path):
    dup = write(tmp_path, GOOD.replace("name: two_boards", "name: a\nname: b"), "dup.yaml")
    with pytest.raises(ChipSpecError, match=r"dup.yaml.*appears twice"):
        load_chip(dup)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)) + "boards: *h\n"
    with pytest.raises(ChipSpecError, match=r"bomb.yaml"):
        load_chip(write(tmp_path, bomb, "bomb.yaml"))


def test_a_system_of_systems_is_refused(tmp_path):
    write(tmp_path, GOOD, "inner.yaml")
    outer = write(tmp_path, GOOD.replace("chip: loihi_like", "chip: inner.yaml"), "outer.yaml")
    with pytest.raises(ChipSpecError, match=r"outer.yaml: chip = 'inner.yaml' is itself a system"):
        load_chip(outer)
