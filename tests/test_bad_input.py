"""Bad input at every entry point ends in the package's error, never a traceback, a hang or a
huge allocation: each case runs in its own process under time and memory limits
(``resource.setrlimit``) and must exit with code 2 (the command) or raise the package's error
class (Python), with a message that names the offending thing.

Cases are a table: (id, how to run it, what the message must contain). Files are made by the
``make_*`` helpers in a fresh folder per case.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

AERSIM = str(Path(sys.executable).with_name("aersim"))
#: Limits of every case's process: address space, CPU seconds, wall seconds.
MEMORY_BYTES = 3 << 30
CPU_S = 60
WALL_S = 120

BOMB = """\
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""
SPEC_OK = "base: {network: random, chip: minimal, duration_s: 0.005}\naxes:\n  run.seed: [0, 1]\n"


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_S, CPU_S))


# ----------------------------------------------------------------------------------------------
# Files.

def chip_text() -> str:
    from importlib import resources

    return (resources.files("aersim.hardware") / "presets" / "minimal.yaml").read_text("utf-8")


def _with_barrier(text: str, latency_ns: str) -> str:
    """A chip file's text with its barrier latency replaced."""
    import yaml

    data = yaml.safe_load(text)
    data["barrier"] = {"latency_ns": float(latency_ns), "energy_pj": 0.0}
    return yaml.safe_dump(data)


def make_trace(path: Path, **changes) -> Path:
    """A small valid trace, then ``changes`` applied with plain h5py."""
    from aersim.traces import TraceWriter

    with TraceWriter(path, {"network": "t", "n_cores": 4}) as w:
        w.write_array("run/core_of", np.array([0, 0, 1, 1, 2, 2, 3, 3], dtype=np.int32))
        w.append_spikes(np.arange(6, dtype=np.int64) * 10**6, np.arange(6, dtype=np.int32))
        w.append_step_durations(np.full(3, 1000, dtype=np.int64))
        w.write_counters(np.ones((4, 2), dtype=np.int64), ["a", "b"])
        w.write_energy(np.ones((4, 2)), ["a", "b"], static_j=0.0, barrier_j=0.0,
                       duration_ps=10**9)
    with h5py.File(path, "a") as f:
        for kind, arg in changes.items():
            if kind == "drop_attr":
                obj, key = arg
                del f[obj].attrs[key]
            elif kind == "drop":
                del f[arg]
            elif kind == "replace":
                name, data = arg
                del f[name]
                f[name] = data
            elif kind == "set_attr":
                obj, key, value = arg
                f[obj].attrs[key] = value
    return path


def make_npz(path: Path, **changes) -> Path:
    """A small valid network file, then entries replaced (or removed with None)."""
    from aersim.models import save_network
    from aersim.models.generators import random_network

    save_network(random_network(n_neurons=20, n_inputs=4, seed=0), path)
    data = dict(np.load(path, allow_pickle=False))
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    np.savez(path, **data)
    return path


def make_files(d: Path) -> None:
    """Every file a case may name, in folder ``d``."""
    (d / "bomb.yaml").write_text(BOMB)
    (d / "dup.yaml").write_text(chip_text() + "\nname: again\nname: twice\n")
    (d / "slow.yaml").write_text(_with_barrier(chip_text(), "1e300"))
    (d / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (d / "binary.yaml").write_bytes(b"\x00\x01\x02PK\x03\x04" + os.urandom(2000))
    (d / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (d / "binary.npz").write_bytes(os.urandom(3000))
    (d / "latin1.nir").write_bytes("nir caf\xe9".encode("latin-1"))
    (d / "binary.h5").write_bytes(os.urandom(5000))
    (d / "text.h5").write_bytes("caf\xe9 not a trace".encode("latin-1"))
    make_npz(d / "short.npz", proj0_indices=np.zeros(3, dtype=np.int32))
    make_npz(d / "badpre.npz", proj0_pre=np.array(99, dtype=np.int64))
    make_npz(d / "badjson.npz", metadata_json=np.array("{not json"))
    make_npz(d / "badshape.npz", layer0_shape=np.array([-5], dtype=np.int64))
    make_npz(d / "noformat.npz", format=None)
    make_npz(d / "badinputs.npz", inputs=np.array(["ghost"]))
    make_trace(d / "ok.h5")
    make_trace(d / "noversion.h5", drop_attr=("/", "version"))
    make_trace(d / "nospikes.h5", drop="spikes")
    make_trace(d / "nometa.h5", drop_attr=("run", "metadata"))
    make_trace(d / "noenergyattr.h5", drop_attr=("energy/by_core_op_j", "total_j"))
    make_trace(d / "counters1d.h5", replace=("counters/per_core", np.ones(4, dtype=np.int64)))
    make_trace(d / "bigid.h5", replace=("spikes/neuron",
                                        np.array([0, 1, 2, 3, 4, 2_000_000_000], np.int32)))
    make_trace(d / "negid.h5", replace=("spikes/neuron", np.array([0, 1, -7, 3, 4, 5],
                                                                  np.int32)))
    make_trace(d / "badcore.h5", replace=("run/core_of", np.array([0, 0, 1, 1, 2, 2, 3, 99],
                                                                  np.int32)))
    make_trace(d / "badjsonmeta.h5", set_attr=("run", "metadata", "{oops"))
    (d / "spec_ok.yaml").write_text(SPEC_OK)
    (d / "spec_biggrid.yaml").write_text(
        "base: {network: random}\naxes:\n" + "".join(
            f"  chip.core.{k}: [{', '.join(str(v) for v in range(1, 101))}]\n"
            for k in ("neurons",)) + "  run.seed: [" + ", ".join(map(str, range(2000))) + "]\n"
        + "  stimulus.rate_hz: [" + ", ".join(map(str, range(1, 101))) + "]\n")
    (d / "spec_inf.yaml").write_text(
        "base: {network: random}\naxes:\n  stimulus.rate_hz: {low: 1, high: .inf}\n"
        "sample: {random: 10}\n")
    (d / "spec_hugerandom.yaml").write_text(
        "base: {network: random}\naxes:\n  stimulus.rate_hz: {low: 1, high: 100}\n"
        "sample: {random: 1000000000}\n")
    (d / "spec_nonet.yaml").write_text("base: {network: missing.npz}\naxes:\n  run.seed: [0]\n")
    (d / "spec_nochip.yaml").write_text("base: {network: random, chip: nochip.yaml}\n"
                                        "axes:\n  run.seed: [0]\n")
    (d / "spec_nopop.yaml").write_text("base: {network: random, stimulus: {population: ghost}}"
                                       "\naxes:\n  run.seed: [0]\n")
    (d / "spec_norec.yaml").write_text("base: {network: random}\naxes:\n"
                                       "  stimulus.recording: [nothing.aedat4]\n")
    (d / "spec_bomb.yaml").write_text(BOMB.replace("a: &a", "name: &a"))
    (d / "spec_dup.yaml").write_text(SPEC_OK + "base: {network: ff}\n")
    (d / "spec_slowbarrier.yaml").write_text(
        "base: {network: random, chip: loihi2_board_like, duration_s: 0.005}\n"
        "axes:\n  system.barrier.latency_ns: [100.0, 1.0e+300]\n")
    (d / "notadir").write_text("a file where a folder should be\n")
    # A format-1 sweep result whose columns a kill left at unequal lengths.
    with h5py.File(d / "damaged_sweep.h5", "w") as f:
        g = f.create_group("sweep")
        g.attrs["format_version"] = 1
        g.attrs["columns"] = json.dumps([["point", "i8"], ["point_id", "str"],
                                         ["status", "str"]])
        g["rows/point"] = np.arange(3)
        g.create_dataset("rows/point_id", data=np.array(["a", "b"], dtype=object),
                         dtype=h5py.string_dtype())
        g.create_dataset("rows/status", data=np.array(["ok", "ok"], dtype=object),
                         dtype=h5py.string_dtype())


# ----------------------------------------------------------------------------------------------
# The table: (id, argv of `aersim` or Python code, regex the message must match).

CLI = [
    ("info-yaml-bomb", ["info", "bomb.yaml"], r"bomb.yaml: more than \d+ (values|uses)"),
    ("info-duplicate-key", ["info", "dup.yaml"], r"dup.yaml: key 'name' appears twice"),
    ("info-deep-nesting", ["info", "deep.yaml"], r"deep.yaml: nest"),
    ("info-binary-chip", ["info", "binary.yaml"], r"binary.yaml: a binary file.*offset 0"),
    ("info-latin1-chip", ["info", "latin1.yaml"], r"latin1.yaml: not UTF-8 text \(byte offset"),
    ("run-chip-bomb", ["run", "ff", "--chip", "bomb.yaml", "--out", ""], r"bomb.yaml"),
    ("run-chip-dup", ["run", "ff", "--chip", "dup.yaml", "--out", ""], r"appears twice"),
    ("run-chip-huge-latency", ["run", "ff", "--chip", "slow.yaml", "--out", ""],
     r"slow.yaml.*barrier.latency_ns = 1e\+300 is not allowed; expected >= 0 and at most 1e9"),
    ("sweep-system-huge-latency", ["sweep", "spec_slowbarrier.yaml", "--dry-run"],
     r"spec_slowbarrier.yaml.*barrier.latency_ns = 1e\+300 is not allowed"),
    ("run-binary-npz", ["run", "binary.npz", "--out", ""], r"binary.npz.* not a readable"),
    ("run-short-arrays", ["run", "short.npz", "--out", ""], r"short.npz.*projection 0"),
    ("run-out-of-range-layer", ["run", "badpre.npz", "--out", ""],
     r"badpre.npz.*proj0_pre = 99 is not a layer number"),
    ("run-bad-json-metadata", ["run", "badjson.npz", "--out", ""],
     r"badjson.npz.*metadata_json is not valid JSON"),
    ("run-negative-shape", ["run", "badshape.npz", "--out", ""], r"badshape.npz.*shape \(-5,\)"),
    ("run-missing-key", ["run", "noformat.npz", "--out", ""], r"noformat.npz.*'format' is "
                                                              r"missing"),
    ("run-unknown-input", ["run", "badinputs.npz", "--out", ""], r"inputs names \['ghost'\]"),
    ("run-latin1-nir", ["run", "latin1.nir", "--out", ""], r"latin1.nir"),
    ("run-out-in-file", ["run", "ff", "--duration", "0.001", "--out", "notadir/t.h5"],
     r"notadir"),
    ("run-zero-threads", ["run", "ff", "--duration", "0.001", "--out", "", "--threads", "0"],
     r"threads must be a whole number >= 1, got 0"),
    ("run-too-many-threads", ["run", "random", "--mode", "timestep", "--duration", "0.001",
                              "--out", "", "--threads", "3"], r"use at most 1 ranks or threads"),
    ("run-ranks-and-threads", ["run", "ff", "--out", "", "--threads", "2", "--ranks", "2"],
     r"over MPI ranks or over threads, not both"),
    ("run-threads-not-a-number", ["run", "ff", "--out", "", "--threads", "two"],
     r"--threads: invalid int value: 'two'"),
    ("info-binary-trace", ["info", "binary.h5"], r"binary.h5 is not an HDF5 file"),
    ("report-binary-trace", ["report", "binary.h5"], r"binary.h5 is not an HDF5 file"),
    ("report-text-trace", ["report", "text.h5"], r"text.h5 is not an HDF5 file"),
    ("report-no-version", ["report", "noversion.h5"], r"noversion.h5: / lacks the attribute "
                                                      r"'version'"),
    ("report-no-spikes", ["report", "nospikes.h5"], r"nospikes.h5: dataset /spikes/t_ps is "
                                                    r"missing"),
    ("report-no-metadata", ["report", "nometa.h5"], r"/run lacks the attribute 'metadata'"),
    ("report-bad-metadata", ["report", "badjsonmeta.h5"], r"'metadata' of /run is not valid"),
    ("report-no-energy-attr", ["report", "noenergyattr.h5"], r"lacks the attribute 'total_j'"),
    ("report-counters-1d", ["report", "counters1d.h5"], r"/counters/per_core has shape \(4,\)"),
    ("report-huge-neuron-id", ["report", "bigid.h5"], r"bigid.h5: /spikes/neuron holds neuron "
                                                      r"id 2000000000, outside 0..7"),
    ("report-negative-id", ["report", "negid.h5"], r"neuron id -7"),
    ("report-bad-core", ["report", "badcore.h5"], r"/run/core_of holds core 99, outside 0..3"),
    ("plot-huge-neuron-id", ["plot", "bigid.h5", "--out", "plots"], r"bigid.h5"),
    ("compare-huge-neuron-id", ["compare", "ok.h5", "bigid.h5"], r"bigid.h5"),
    ("info-huge-neuron-id", ["info", "bigid.h5"], r"bigid.h5"),
    ("plot-out-in-file", ["plot", "ok.h5", "--out", "notadir/plots"], r"notadir"),
    ("sweep-huge-grid", ["sweep", "spec_biggrid.yaml", "--dry-run"],
     r"the grid has 20000000 points .* at most 100000"),
    ("sweep-infinite-range", ["sweep", "spec_inf.yaml", "--dry-run"], r"finite A < B"),
    ("sweep-huge-random", ["sweep", "spec_hugerandom.yaml", "--dry-run"],
     r"sample = .*random: N \(1..100000\)"),
    ("sweep-missing-network", ["sweep", "spec_nonet.yaml", "--dry-run"],
     r"network 'missing.npz' is neither a built-in .* does not exist"),
    ("sweep-missing-chip", ["sweep", "spec_nochip.yaml", "--dry-run"], r"unknown chip "
                                                                       r"'nochip.yaml'"),
    ("sweep-missing-population", ["sweep", "spec_nopop.yaml", "--dry-run"],
     r"population = 'ghost' is not a population of network 'random'"),
    ("sweep-missing-recording", ["sweep", "spec_norec.yaml", "--dry-run"],
     r"recording 'nothing.aedat4' does not exist"),
    ("sweep-yaml-bomb", ["sweep", "spec_bomb.yaml", "--dry-run"], r"spec_bomb.yaml: more than"),
    ("sweep-duplicate-key", ["sweep", "spec_dup.yaml", "--dry-run"], r"key 'base' appears "
                                                                     r"twice"),
    ("sweep-binary-spec", ["sweep", "binary.yaml", "--dry-run"], r"binary.yaml: a binary file"),
    ("sweep-out-in-file", ["sweep", "spec_ok.yaml", "--out", "notadir/r.h5"], r"notadir"),
    ("sweep-damaged-resume", ["sweep", "spec_ok.yaml", "--out", "damaged_sweep.h5",
                              "--resume"], r"damaged_sweep.h5"),
    ("sweep-unreachable-scheduler", ["sweep", "spec_ok.yaml", "--out", "r.h5", "--scheduler",
                                     "tcp://127.0.0.1:9", "--scheduler-timeout", "2"],
     r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 2 s"),
    ("sweep-plot-damaged", ["sweep-plot", "damaged_sweep.h5", "--out", "p"],
     r"damaged_sweep.h5 is damaged: its columns have unequal lengths"),
    ("sweep-plot-out-in-file", ["sweep-plot", "ok_sweep.h5", "--out", "notadir/p"],
     r"notadir"),
]

PY = [
    ("load_chip-bomb", "from aersim.hardware import load_chip; load_chip('bomb.yaml')",
     "ChipSpecError", r"bomb.yaml"),
    ("load_chip-dup", "from aersim.hardware import load_chip; load_chip('dup.yaml')",
     "ChipSpecError", r"appears twice"),
    ("load_network-short", "from aersim.models import load_network; "
                           "load_network('short.npz')", "ModelError", r"short.npz"),
    ("load_network-binary", "from aersim.models import load_network; "
                            "load_network('binary.npz')", "ModelError", r"binary.npz"),
    ("read_trace-bigid", "from aersim.traces import read_trace; read_trace('bigid.h5')",
     "TraceFormatError", r"neuron id 2000000000"),
    ("read_trace-counters", "from aersim.traces import read_trace; "
                            "read_trace('counters1d.h5')", "TraceFormatError", r"per_core"),
    ("load_spec-grid", "from aersim.simcore.sweep.spec import load_spec; "
                       "load_spec('spec_biggrid.yaml')", "SweepSpecError", r"grid has"),
    ("load_spec-dict-inf", "from aersim.simcore.sweep.spec import load_spec; "
                           "load_spec({'axes': {'stimulus.rate_hz': {'low': 1, "
                           "'high': float('inf')}}, 'sample': {'random': 3}})",
     "SweepSpecError", r"finite"),
    ("read_sweep-damaged", "from aersim.simcore.sweep.runner import read_sweep; "
                           "read_sweep('damaged_sweep.h5')", "ConfigError", r"unequal lengths"),
    ("sweep-other-spec", "from aersim.simcore.sweep.runner import sweep; "
                         "sweep({'base': {'network': 'random', 'duration_s': 0.009}, "
                         "'axes': {'run.seed': [0, 1]}}, out='ok_sweep.h5', resume=True)",
     "ConfigError", r"ok_sweep.h5 holds another sweep"),
    ("synapse_arena-float", "from aersim.models import synapse_arena; synapse_arena([3, 2.5])",
     "NetworkError", r"whole numbers >= 0, got \[3, 2.5\]"),
    ("RunConfig-synapses", "from aersim.simcore import RunConfig; RunConfig(synapses='shared')",
     "ConfigError", r"RunConfig.synapses must be one of \('auto', 'in_place', 'copy'\), got "
                    r"'shared'"),
    ("TraceWriter-locked", "from aersim.traces import TraceWriter; "
                           "a = TraceWriter('locked.h5'); TraceWriter('locked.h5')",
     "TraceError", r"locked.h5 is being written by process"),
]

#: Cases whose fix lies outside the modules this suite's author may change; they stay in the
#: table (strict xfail: a fix elsewhere turns them green and then must be un-marked).
KNOWN_GAPS: dict = {}



@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    make_files(d)
    # A valid sweep result, for the cases that need one.
    from aersim.simcore.sweep.spec import load_spec
    from aersim.simcore.sweep.table import H5Writer, table_columns

    spec = load_spec(d / "spec_ok.yaml")
    w = H5Writer(d / "ok_sweep.h5", table_columns(spec), spec, append=False)
    w.close()
    return d


def run_case(folder: Path, argv):
    work = folder / "work"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("work"))
    return subprocess.run(argv, cwd=work, preexec_fn=_limits, capture_output=True, text=True,
                          timeout=WALL_S)


def _mark(case_id):
    if case_id in KNOWN_GAPS:
        return pytest.param(case_id, marks=pytest.mark.xfail(reason=KNOWN_GAPS[case_id],
                                                             strict=True))
    return case_id


@pytest.mark.parametrize("case_id", [_mark(c[0]) for c in CLI])
def test_command_rejects_bad_input(files, case_id):
    _, argv, match = next(c for c in CLI if c[0] == case_id)
    proc = run_case(files, [AERSIM, *argv])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    import re

    assert re.search(match, proc.stderr), proc.stderr


PY_TEMPLATE = textwrap.dedent("""
    import sys
    try:
        {code}
    except Exception as exc:
        names = [c.__name__ for c in type(exc).__mro__]
        print(names[0], "|", exc)
        sys.exit(2 if {cls!r} in names else 1)
    print("no error")
    sys.exit(0)
""")


@pytest.mark.parametrize("case_id", [_mark(c[0]) for c in PY])
def test_python_entry_point_raises_the_package_error(files, case_id):
    _, code, cls, match = next(c for c in PY if c[0] == case_id)
    proc = run_case(files, [sys.executable, "-c", PY_TEMPLATE.format(code=code, cls=cls)])
    assert proc.returncode == 2, (proc.stdout, proc.stderr[-2000:])
    import re

    assert re.search(match, proc.stdout), proc.stdout


@pytest.fixture
def readonly_dir(tmp_path):
    """A folder that cannot be written, even by root (a read-only mount); else chmod for
    other users; skipped when neither is possible."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(d)],
                      capture_output=True).returncode != 0:
        pytest.skip("root and no read-only mount possible")
    yield d
    subprocess.run(["umount", str(d)], check=False)


@pytest.mark.parametrize("argv,match", [
    (["sweep", "spec_ok.yaml", "--out", "{ro}/r.h5"], r"cannot write sweep result .*"
                                                      r"Read-only file system"),
    (["sweep-plot", "ok_sweep.h5", "--out", "{ro}/p"], r"cannot write to folder"),
    (["plot", "ok.h5", "--out", "{ro}/p"], r"cannot write figures into folder"),
    (["run", "ff", "--duration", "0.001", "--out", "{ro}/t.h5"], r"cannot write trace"),
])
def test_read_only_output_folder(files, readonly_dir, argv, match):
    proc = run_case(files, [AERSIM, *[a.format(ro=readonly_dir) for a in argv]])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, proc.stderr
    import re

    assert re.search(match, proc.stderr), proc.stderr
