"""The error classes of the ``hardware`` package."""


class HardwareError(Exception):
    """Base class of every error raised by ``hardware``."""


class ChipSpecError(HardwareError, ValueError):
    """A chip description is invalid: names the file, key path, value and what is allowed."""


class MappingError(HardwareError, ValueError):
    """A network does not fit a chip: names the limit, the core, by how much, and what to change."""
