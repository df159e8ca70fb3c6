"""Each package's ``__all__``: sorted, importable, and pinned (a change here is deliberate)."""

import importlib
import subprocess
import sys

import pytest

PINNED = {
    "aersim": ["PoissonDrive", "PoissonInput", "Results", "RunConfig", "RunSpec", "Simulation",
               "SpikeTrains", "load_chip", "load_network", "map_network", "open_events",
               "preset_names", "read_events", "read_trace", "run"],
    "aersim.simcore": ["ConfigError", "EventQueue", "GradedInput", "PoissonDrive",
                       "PoissonInput", "Results", "RunConfig", "RunSpec", "Simulation",
                       "SimulationError", "SpikeTrains", "StimulusError", "execute", "resolve",
                       "run"],
    "aersim.hardware": [
        "ChipSpec", "ChipSpecError", "CoreSpec", "CrossbarSpec", "CrossbarState", "EnergyLedger",
        "HardwareError", "LinkType", "Mapping", "MappingError", "MvmResult", "NocSpec", "OP_KINDS",
        "ProjectionTiles", "SramSpec", "SystemSpec", "apply_crossbar", "chip_from_dict",
        "crossbar_from_dict",
        "crossbar_preset", "load_chip", "map_network", "mvm", "preset_names", "price",
        "program", "program_csr", "read_weights", "sram_from_cacti", "synapse_memory_bytes",
        "synapse_reads_per_op", "system_from_dict", "tile_projection", "weight_error_stats"],
    "aersim.models": [
        "ALIFParams", "ConvProjection", "CubaLIFParams", "CubaLIParams", "EGRUParams",
        "IFParams", "ImportProfile", "InputParams", "IntegratorParams", "LIFParams", "LIParams",
        "LoihiCubaParams", "ModelError", "ModelWarning", "Network", "NetworkError", "PROFILES",
        "ParameterError", "Population", "Projection", "SigmaDeltaParams", "brunel_network",
        "ff_network", "get_profile", "load_network", "load_netx", "random_network",
        "save_network", "synapse_arena", "weights_to_loihi"],
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_all_is_pinned_sorted_and_importable(name):
    mod = importlib.import_module(name)
    assert mod.__all__ == sorted(mod.__all__)
    assert mod.__all__ == PINNED[name]
    for attr in mod.__all__:
        assert hasattr(mod, attr)


def test_traces_lazy_modules():
    import aersim.traces as traces
    assert traces.transforms.__name__ == "aersim.traces.recordings.transforms"
    assert traces.report.__name__ == "aersim.traces.output.report"
    with pytest.raises(AttributeError):
        traces.nosuch  # noqa: B018


def test_importing_is_cheap():
    heavy = "('matplotlib', 'nir', 'simpy', 'dask', 'lz4')"
    code = ("import sys, aersim; "
            f"print(sorted(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
