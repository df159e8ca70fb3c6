"""aersim's chip models: chip descriptions, systems of chips, presets, network-on-chip, mapping,
energy."""

from aersim.hardware.chip import (
    ChipSpec,
    CoreSpec,
    NocSpec,
    chip_from_dict,
    load_chip,
    preset_names,
)
from aersim.hardware.crossbar.array import (
    CrossbarState,
    MvmResult,
    mvm,
    program,
    program_csr,
    read_weights,
)
from aersim.hardware.crossbar.devices import CrossbarSpec, crossbar_from_dict, crossbar_preset
from aersim.hardware.crossbar.network import (
    ProjectionTiles,
    apply_crossbar,
    tile_projection,
    weight_error_stats,
)
from aersim.hardware.energy import OP_KINDS, EnergyLedger, price
from aersim.hardware.errors import ChipSpecError, HardwareError, MappingError
from aersim.hardware.mapping import Mapping, map_network
from aersim.hardware.sram import (
    SramSpec,
    sram_from_cacti,
    synapse_memory_bytes,
    synapse_reads_per_op,
)
from aersim.hardware.system import LinkType, SystemSpec, system_from_dict

__all__ = [
    "ChipSpec", "ChipSpecError", "CoreSpec", "CrossbarSpec", "CrossbarState", "EnergyLedger",
    "HardwareError", "LinkType", "Mapping", "MappingError", "MvmResult", "NocSpec", "OP_KINDS",
    "ProjectionTiles", "SramSpec", "SystemSpec", "apply_crossbar", "chip_from_dict",
    "crossbar_from_dict",
    "crossbar_preset", "load_chip", "map_network", "mvm", "preset_names", "price", "program",
    "program_csr", "read_weights", "sram_from_cacti", "synapse_memory_bytes",
    "synapse_reads_per_op", "system_from_dict", "tile_projection", "weight_error_stats",
]
