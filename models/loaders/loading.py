"""Front door for trained-network files: ``load_network`` and ``save_network``.

The format is chosen through a registry, by the file's first bytes when it exists (HDF5
signature -> NIR, zip signature -> ``.npz``) and otherwise by its suffix:

=========  ===================  =========================================
format     suffixes             module
=========  ===================  =========================================
nir        ``.nir``, ``.h5``    ``models.loaders.nir_io`` (needs ``aersim[nir]``)
npz        ``.npz``             ``models.loaders.npz_io``
=========  ===================  =========================================
"""

from __future__ import annotations

from pathlib import Path

from aersim.models.errors import ModelError

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


def _nir_load(path, profile):
    from aersim.models.loaders.nir_io import load_nir

    return load_nir(path, profile)


def _nir_save(network, path, profile):
    from aersim.models.loaders.nir_io import save_nir

    save_nir(network, path, profile)


def _npz_load(path, profile):
    from aersim.models.loaders.npz_io import load_npz

    if profile is not None:
        raise ModelError(f"{str(path)!r}: .npz files store discrete parameters already; an "
                         f"import profile ({profile!r}) does not apply, pass profile=None")
    return load_npz(path)


def _npz_save(network, path, profile):
    from aersim.models.loaders.npz_io import save_npz

    save_npz(network, path)


def _netx_load(path, profile):
    from aersim.models.loaders.netx_io import load_netx

    if profile is not None:
        raise ModelError(f"{str(path)!r}: Lava-DL netx files store Loihi fixed-point "
                         f"parameters; an import profile ({profile!r}) does not apply, pass "
                         "profile=None")
    return load_netx(path)


#: Formats by name. ``claims_suffix``: the suffix decides before the content is sniffed (a
#: netx ``.net`` file is HDF5 too, but not NIR). ``save`` None: the format is read-only.
FORMATS = {
    "netx": {"suffixes": (".net",), "magic": None, "load": _netx_load, "save": None,
             "claims_suffix": True},
    "nir": {"suffixes": (".nir", ".h5", ".hdf5"), "magic": _HDF5_MAGIC,
            "load": _nir_load, "save": _nir_save},
    "npz": {"suffixes": (".npz",), "magic": _ZIP_MAGIC, "load": _npz_load, "save": _npz_save},
}


def _format_of(path: Path, sniff: bool) -> str:
    for name, spec in FORMATS.items():
        if spec.get("claims_suffix") and path.suffix.lower() in spec["suffixes"]:
            return name
    if sniff and path.is_file():
        with open(path, "rb") as f:
            head = f.read(8)
        for name, spec in FORMATS.items():
            if spec["magic"] and head.startswith(spec["magic"]):
                return name
    for name, spec in FORMATS.items():
        if path.suffix.lower() in spec["suffixes"]:
            return name
    known = {n: s["suffixes"] for n, s in FORMATS.items()}
    raise ModelError(f"{str(path)!r}: cannot tell the network format from its content or its "
                     f"suffix {path.suffix!r}; supported formats are {known}")


def load_network(path, profile=None):
    """Load a trained network from a NIR (``.nir``) or ``.npz`` file.

    Parameters
    ----------
    path : str, Path or nir.NIRGraph
        A file, or a graph built in memory with the ``nir`` package.
    profile : str or ImportProfile, optional
        NIR import profile (``"exact"``, ``"snntorch"``, ``"norse"``, ``"sinabs"``,
        ``"rockpool"``, ``"lava-dl"``, ``"spyx"``); detected with a warning when omitted.

    Returns
    -------
    Network

    Raises
    ------
    ModelError
        On a missing, unrecognised or malformed file, or an unknown profile.
    """
    if type(path).__name__ == "NIRGraph":  # an in-memory graph built with the nir package
        return _nir_load(path, profile)
    path = Path(path)
    if not path.exists():
        raise ModelError(f"network file {str(path)!r} does not exist")
    return FORMATS[_format_of(path, True)]["load"](path, profile)


def save_network(network, path, profile=None) -> None:
    """Write ``network`` to ``path``; the suffix chooses the format (``.nir`` or ``.npz``)."""
    path = Path(path)
    name = _format_of(path, False)
    if FORMATS[name]["save"] is None:
        writable = [n for n, spec in FORMATS.items() if spec["save"] is not None]
        raise ModelError(f"{str(path)!r}: aersim reads {name} files but does not write them; "
                         f"save as one of {writable} (.nir or .npz)")
    FORMATS[name]["save"](network, path, profile)
