"""aersim's chip models: chip descriptions, presets, network-on-chip, mapping, energy."""

from hardware.chip import ChipSpec, CoreSpec, NocSpec, chip_from_dict, load_chip, preset_names
from hardware.energy import OP_KINDS, EnergyLedger, price
from hardware.errors import ChipSpecError, HardwareError, MappingError
from hardware.mapping import Mapping, map_network

__all__ = sorted([
    "ChipSpec", "ChipSpecError", "CoreSpec", "EnergyLedger", "HardwareError", "Mapping",
    "MappingError", "NocSpec", "OP_KINDS", "chip_from_dict", "load_chip", "map_network",
    "preset_names", "price",
])
