"""PyTorch GRU weights as an EGRU layer, without importing PyTorch.

A ``torch.nn.GRU`` (and any module that names its parameters the same way) stores, for layer
``l``, ``weight_ih_l{l}`` (3H, K), ``weight_hh_l{l}`` (3H, H), ``bias_ih_l{l}`` and
``bias_hh_l{l}`` (3H,), each stacked in the gate order **r, z, n**. PyTorch's cell is::

    r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh   (W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

which is the reset-after GRU of the EGRU (``models.neurons.egru``) with PyTorch's ``z`` the
*keep* gate: ``u = 1 - z = sigmoid(-(...))``. So the EGRU gates are u <- -(z block), r <- r
block, z <- n block (both weights and both biases); the EGRU then replaces ``h`` in the
recurrent terms by its events ``y`` and thresholds with ``theta``, which a GRU does not have:
it comes from the state dict (``theta_l{l}``, or ``theta``) or from the caller.

The state dict is read from a ``.npz`` file (``numpy.savez(path, **{k: v.numpy() ...})``), a
plain dict of arrays, or a ``.pt``/``.pth`` file saved with ``torch.save(module.state_dict())``
(only this last form imports torch, lazily).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np

from aersim.models.errors import ModelError, ParameterError
from aersim.models.neurons.egru import EGRUParams

#: PyTorch's gate blocks, in storage order, and the EGRU gate each becomes (with its sign).
TORCH_GATES = (("r", "r", 1.0), ("z", "u", -1.0), ("n", "z", 1.0))


class TorchMissingError(ModelError, ImportError):
    """A ``.pt`` file was given but PyTorch is not installed."""


def read_state_dict(source) -> dict[str, np.ndarray]:
    """A state dict as ``{name: ndarray}``.

    Parameters
    ----------
    source : dict, str or Path
        A mapping of names to arrays (NumPy arrays, lists, CPU tensors), an ``.npz`` file, or a
        ``.pt``/``.pth`` file (needs PyTorch).

    Raises
    ------
    TorchMissingError
        A ``.pt`` file without PyTorch installed.
    ParameterError
        An unreadable file or an entry that is not numeric.
    """
    if isinstance(source, dict):
        items = source.items()
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ParameterError(f"state dict file {str(path)!r} does not exist")
        if path.suffix in (".pt", ".pth"):
            items = _torch_load(path).items()
        else:
            try:
                with np.load(path, allow_pickle=False) as z:
                    items = {k: z[k] for k in z.files}.items()
            except (OSError, ValueError) as exc:
                raise ParameterError(f"cannot read {str(path)!r} as an .npz state dict: "
                                     f"{exc}") from exc
    else:
        raise ParameterError(f"a state dict must be a dict, an .npz or a .pt path, got "
                             f"{type(source).__name__}")
    out = {}
    for k, v in items:
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        arr = np.asarray(v)
        if not np.issubdtype(arr.dtype, np.number):
            raise ParameterError(f"state dict entry {k!r} is not numeric (dtype {arr.dtype})")
        out[str(k)] = arr
    return out


def _torch_load(path: Path) -> dict:
    # An optional dependency, imported only for .pt files (``models`` does not require torch).
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        raise TorchMissingError(f"{str(path)!r} is a PyTorch file and PyTorch is not installed; "
                                "install torch, or save the state dict as .npz "
                                "(numpy.savez(path, **{k: v.numpy() for k, v in "
                                "state_dict.items()}))") from None
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        raise ParameterError(f"{str(path)!r} holds a {type(obj).__name__}, not a state dict; "
                             "save module.state_dict()")
    return obj


def gru_prefix(state: dict, layer: int = 0) -> str:
    """The prefix of the one GRU layer ``layer`` in ``state`` (``""``, ``"rnn."``, ...)."""
    suffix = f"weight_ih_l{layer}"
    found = sorted(k[:-len(suffix)] for k in state if k.endswith(suffix))
    if len(found) != 1:
        raise ParameterError(f"expected one GRU layer {layer} (a key ending in {suffix!r}), "
                             f"found {len(found)}: {found}; pass prefix=")
    return found[0]


def egru_from_torch_gru(source, *, prefix: str | None = None, layer: int = 0, theta=None,
                        **kwargs) -> EGRUParams:
    """EGRU parameters from a PyTorch GRU layer's state dict.

    Parameters
    ----------
    source : dict, str or Path
        See :func:`read_state_dict`.
    prefix : str, optional
        What precedes ``weight_ih_l0`` in the names (``"rnn."``); by default the one prefix
        that has such a key.
    layer : int
        Layer ``l`` of a stacked GRU.
    theta : float, ndarray of shape (H,), or None
        Thresholds; None reads ``{prefix}theta_l{layer}`` or ``{prefix}theta``. Clipped to
        ``[0, 1]`` as the EGRU's authors clamp them.
    **kwargs
        Further :class:`EGRUParams` fields (``reset``, ``zoneout``, ``c_init``).

    Returns
    -------
    EGRUParams
        ``H`` units with ``K`` inputs. Missing biases (``bias=False``) are 0.
    """
    state = read_state_dict(source)
    if prefix is None:
        prefix = gru_prefix(state, layer)
    w_ih = _entry(state, f"{prefix}weight_ih_l{layer}", 2)
    h = w_ih.shape[0] // 3
    if w_ih.shape[0] != 3 * h or h == 0:
        raise ParameterError(f"{prefix}weight_ih_l{layer} has shape {w_ih.shape}; expected "
                             "(3H, K) with blocks r, z, n")
    w_hh = _entry(state, f"{prefix}weight_hh_l{layer}", 2, (3 * h, h))
    b_ih = _entry(state, f"{prefix}bias_ih_l{layer}", 1, (3 * h,), optional=True)
    b_hh = _entry(state, f"{prefix}bias_hh_l{layer}", 1, (3 * h,), optional=True)
    if theta is None:
        for key in (f"{prefix}theta_l{layer}", f"{prefix}theta"):
            if key in state:
                theta = state[key]
                break
        else:
            raise ParameterError(f"no threshold: the state dict has neither "
                                 f"{prefix}theta_l{layer} nor {prefix}theta; pass theta=")
    theta = np.clip(np.asarray(theta, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if theta.size not in (1, h):
        raise ParameterError(f"theta has {theta.size} values for {h} units")
    args = {}
    for i, (_, gate, sign) in enumerate(TORCH_GATES):
        blk = slice(i * h, (i + 1) * h)
        args[f"w_{gate}"] = sign * w_ih[blk]
        args[f"r_{gate}"] = sign * w_hh[blk]
        args[f"bx_{gate}"] = sign * b_ih[blk]
        args[f"br_{gate}"] = sign * b_hh[blk]
    return EGRUParams(theta=theta if theta.size == h else float(theta[0]), **args, **kwargs)


def _entry(state, key, ndim, shape=None, optional=False) -> np.ndarray:
    if key not in state:
        if optional:
            return np.zeros(shape, dtype=np.float64)
        near = sorted(k for k in state if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1])
        raise ParameterError(f"state dict has no {key!r}" + (f"; did you mean {near}?" if near
                                                               else f"; it has {sorted(state)}"))
    arr = np.asarray(state[key], dtype=np.float64)
    if arr.ndim != ndim or (shape is not None and arr.shape != shape):
        raise ParameterError(f"{key} has shape {arr.shape}; expected "
                             f"{shape if shape is not None else f'{ndim} dimensions'}")
    return arr


def linear_from_state(source, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """A ``torch.nn.Linear``'s ``{prefix}weight`` (out, in) and ``{prefix}bias`` (out,; 0 if
    absent) as float64 arrays (a readout layer)."""
    state = read_state_dict(source)
    w = _entry(state, f"{prefix}weight", 2)
    b = _entry(state, f"{prefix}bias", 1, (w.shape[0],), optional=True)
    return w, b
