"""Convolutions as shared-weight projections, and their unrolling into synapses.

A convolution maps a ``(C_in, H, W)`` population to a ``(C_out, H', W')`` population with one
kernel ``weight (C_out, C_in / groups, kH, kW)`` shared by every position (PyTorch semantics for
a single sample)::

    y[co, oh, ow] = sum_{ci, kh, kw} weight[co, ci, kh, kw]
                    * x[g * C_in/groups + ci, oh*sH - pT + kh*dH, ow*sW - pL + kw*dW]

with ``g = co // (C_out / groups)``; out-of-range input positions are zero padding, so they make no
synapse. ``H' = floor((H + pT + pB - dH (kH - 1) - 1) / sH) + 1``. ``padding="same"`` keeps the
size (``pT = dH (kH - 1) // 2``, the rest at the bottom) and, as NIR specifies, ignores the
stride. A 1-d convolution is the 2-d one with ``H = 1``; sum pooling is a grouped convolution
with a kernel of ones and ``groups = C``.

A :class:`ConvProjection` keeps only the kernel; ``to_csr()`` derives the unrolled synapses on
demand (rows are presynaptic neurons in C order of ``in_shape``, columns postsynaptic neurons in
C order of ``out_shape``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from aersim.models.errors import ModelError, NetworkError


def _pair(value, name: str) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64).ravel()
    if arr.size == 1:
        return int(arr[0]), int(arr[0])
    if arr.size != 2:
        raise ModelError(f"convolution {name} must be an int or a pair, got {value!r}")
    return int(arr[0]), int(arr[1])


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes and index arithmetic of one 2-d convolution (1-d convolutions use ``H = 1``).

    Parameters
    ----------
    in_shape : tuple of int
        ``(C_in, H, W)``.
    kernel : tuple of int
        ``(C_out, C_in / groups, kH, kW)``.
    stride, dilation : tuple of int
        ``(sH, sW)``, ``(dH, dW)``, each >= 1.
    padding : tuple of int
        ``(top, bottom, left, right)``, each >= 0.
    groups : int
    """

    in_shape: tuple
    kernel: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0, 0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1

    def __post_init__(self):
        c_in, h, w = self.in_shape
        c_out, c_per_group, kh, kw = self.kernel
        where = f"convolution {self.kernel} on input {self.in_shape}"
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise ModelError(f"{where}: stride and dilation must be >= 1 and padding >= 0, got "
                             f"stride={self.stride} dilation={self.dilation} "
                             f"padding={self.padding}")
        if self.groups < 1 or c_in % self.groups or c_out % self.groups:
            raise ModelError(f"{where}: groups={self.groups} must divide both C_in={c_in} and "
                             f"C_out={c_out}")
        if c_per_group * self.groups != c_in:
            raise ModelError(f"{where}: weight has {c_per_group} input channels per group x "
                             f"{self.groups} groups, but the input has {c_in} channels")
        if min(self.out_shape[1:]) < 1:
            raise ModelError(f"{where}: the kernel (dilated) is larger than the padded input; "
                             "the output would be empty")

    @classmethod
    def from_nir(cls, in_shape, weight_shape, stride, padding, dilation, groups,
                 ndim: int) -> ConvGeometry:
        """Build from NIR Conv1d/Conv2d fields (``ndim`` is 1 or 2); pooling uses ``ndim=2``."""
        if ndim == 1:
            c_in, n = in_shape
            c_out, cpg, k = weight_shape
            in3, kern = (c_in, 1, n), (c_out, cpg, 1, k)
            s, d = (1, _pair(stride, "stride")[0]), (1, _pair(dilation, "dilation")[0])
        else:
            in3, kern = tuple(in_shape), tuple(weight_shape)
            s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
        kh, kw = kern[2], kern[3]
        if isinstance(padding, str):
            mode = padding.lower()
            if mode == "valid":
                pad = (0, 0, 0, 0)
            elif mode == "same":
                th, tw = d[0] * (kh - 1), d[1] * (kw - 1)
                pad = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
                s = (1, 1)  # NIR: "same" keeps the size and ignores the stride
            else:
                raise ModelError(f"convolution padding {padding!r} is not an int, a pair, "
                                 "'same' or 'valid'")
        else:
            p = _pair(padding, "padding")
            if ndim == 1:
                p = (0, p[0])
            pad = (p[0], p[0], p[1], p[1])
        return cls(tuple(int(v) for v in in3), tuple(int(v) for v in kern), s, pad, d,
                   int(np.asarray(groups).ravel()[0]))

    @property
    def out_shape(self) -> tuple:
        """``(C_out, H', W')``."""
        _, h, w = self.in_shape
        c_out, _, kh, kw = self.kernel
        pt, pb, pl, pr = self.padding
        ho = (h + pt + pb - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        wo = (w + pl + pr - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return (c_out, int(ho), int(wo))

    def _taps(self, axis: int, k: int):
        """For kernel tap ``k`` on ``axis`` (0 = H, 1 = W): valid output and input positions."""
        n_in = self.in_shape[1 + axis]
        n_out = self.out_shape[1 + axis]
        o = np.arange(n_out, dtype=np.int64)
        i = o * self.stride[axis] - self.padding[2 * axis] + k * self.dilation[axis]
        ok = (i >= 0) & (i < n_in)
        return o[ok], i[ok]

    def n_synapses(self) -> int:
        """Number of (input, output, tap) triples that fall inside the input (no unrolling)."""
        c_out, cpg, kh, kw = self.kernel
        rows = sum(self._taps(0, k)[0].size for k in range(kh))
        cols = sum(self._taps(1, k)[0].size for k in range(kw))
        return int(c_out * cpg * rows * cols)

    def unroll(self, weight: np.ndarray):
        """Synapses as coordinate arrays.

        Parameters
        ----------
        weight : ndarray, shape ``kernel``
            Kernel values (any float dtype).

        Returns
        -------
        pre : ndarray of int64, shape (n_syn,)
            Flat index into ``in_shape``.
        post : ndarray of int64, shape (n_syn,)
            Flat index into ``out_shape``.
        w : ndarray, shape (n_syn,)
            The kernel value of each synapse, in ``weight``'s dtype.
        """
        c_in, h, wi = self.in_shape
        c_out, cpg, kh, kw = self.kernel
        _, ho, wo = self.out_shape
        opg = c_out // self.groups
        weight = np.asarray(weight).reshape(self.kernel)
        pres, posts, ws = [], [], []
        co = np.arange(c_out, dtype=np.int64)
        ci_rel = np.arange(cpg, dtype=np.int64)
        ci = (co // opg)[:, None] * cpg + ci_rel[None, :]          # (C_out, cpg) input channel
        for a in range(kh):
            oh, ih = self._taps(0, a)
            if not oh.size:
                continue
            for b in range(kw):
                ow, iw = self._taps(1, b)
                if not ow.size:
                    continue
                in_pos = (ih[:, None] * wi + iw[None, :]).ravel()  # (P,)
                out_pos = (oh[:, None] * wo + ow[None, :]).ravel()
                pre = ci[:, :, None] * (h * wi) + in_pos[None, None, :]
                post = np.broadcast_to((co * (ho * wo))[:, None, None] + out_pos[None, None, :],
                                       pre.shape)
                pres.append(pre.ravel())
                posts.append(post.ravel())
                ws.append(np.broadcast_to(weight[:, :, a, b][:, :, None], pre.shape).ravel())
        if not pres:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=weight.dtype)
        return np.concatenate(pres), np.concatenate(posts), np.concatenate(ws)

    def matrix(self, weight: np.ndarray):
        """The convolution as a ``scipy.sparse.csr_matrix`` of shape ``(n_out, n_in)``."""
        import scipy.sparse as sp

        pre, post, w = self.unroll(weight)
        n_in = int(np.prod(self.in_shape))
        n_out = int(np.prod(self.out_shape))
        return sp.csr_matrix((w.astype(np.float64), (post, pre)), shape=(n_out, n_in))


def pool_geometry(in_shape, kernel_size, stride, padding) -> ConvGeometry:
    """Geometry of 2-d sum pooling over ``in_shape = (C, H, W)`` as a grouped convolution."""
    c = int(in_shape[0])
    kh, kw = _pair(kernel_size, "kernel_size")
    p = _pair(padding, "padding")
    return ConvGeometry(tuple(int(v) for v in in_shape), (c, 1, kh, kw),
                        _pair(stride, "stride"), (p[0], p[0], p[1], p[1]), (1, 1), c)


def csr_from_coo(pre, post, weights, n_pre: int, delays_ps=None):
    """Sort coordinate synapses by presynaptic neuron (stable) into CSR arrays.

    Returns ``(indptr int64 (n_pre+1,), indices int32, weights float32, delays_ps int64)``;
    ``delays_ps`` is returned 0-d when it was given as a scalar.
    """
    pre = np.asarray(pre, dtype=np.int64)
    order = np.argsort(pre, kind="stable")
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
    indices = np.ascontiguousarray(np.asarray(post)[order], dtype=np.int32)
    w = np.ascontiguousarray(np.asarray(weights)[order], dtype=np.float32)
    d = np.asarray(0 if delays_ps is None else delays_ps, dtype=np.int64)
    if d.ndim:
        d = np.ascontiguousarray(d[order])
    return indptr, indices, w, d


@dataclass(frozen=True, eq=False)
class ConvProjection:
    """A convolution from population ``pre`` to ``post`` stored as its kernel.

    Parameters
    ----------
    name, pre, post : str
        Projection and population names.
    weight : ndarray of float32, shape ``geometry.kernel``
        Shared kernel (weights multiply the target's ``input_gain``, as in ``Projection``).
    geometry : ConvGeometry
        Shapes, stride, padding, dilation, groups.
    delays_ps : ndarray of int64, shape ()
        One synaptic delay shared by every synapse, picoseconds.
    source : str
        The NIR node type it came from (``"Conv2d"``, ``"Conv1d"``, ``"SumPool2d"``, ...).
    """

    name: str
    pre: str
    post: str
    weight: np.ndarray
    geometry: ConvGeometry
    delays_ps: np.ndarray
    source: str = "Conv2d"

    def __post_init__(self):
        w = np.ascontiguousarray(self.weight, dtype=np.float32)
        if w.shape != tuple(self.geometry.kernel):
            raise NetworkError(f"projection {self.name!r}: kernel shape {w.shape} does not match "
                               f"the geometry {self.geometry.kernel}")
        if not np.all(np.isfinite(w)):
            raise NetworkError(f"projection {self.name!r}: kernel has NaN or infinite weights")
        d = np.asarray(self.delays_ps, dtype=np.int64)
        if d.ndim != 0 or int(d) < 0:
            raise NetworkError(f"projection {self.name!r}: a convolution has one shared delay "
                               f">= 0 ps, got {self.delays_ps!r}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "delays_ps", d)

    @property
    def n_synapses(self) -> int:
        """Number of unrolled synapses (computed without unrolling)."""
        return self.geometry.n_synapses()

    def validate(self, pre_population, post_population) -> None:
        """Check that the populations hold the convolution's input and output."""
        n_in = int(np.prod(self.geometry.in_shape))
        n_out = int(np.prod(self.geometry.out_shape))
        if pre_population.size != n_in or post_population.size != n_out:
            raise NetworkError(
                f"projection {self.name!r}: convolution maps {self.geometry.in_shape} "
                f"({n_in} neurons) to {self.geometry.out_shape} ({n_out}), but populations "
                f"{pre_population.name!r} and {post_population.name!r} have "
                f"{pre_population.size} and {post_population.size} neurons")

    @cached_property
    def _csr(self):
        pre, post, w = self.geometry.unroll(self.weight)
        return csr_from_coo(pre, post, w, int(np.prod(self.geometry.in_shape)), self.delays_ps)

    def to_csr(self):
        """Unrolled ``(indptr int64, indices int32, weights float32, delays_ps int64 0-d)``."""
        return self._csr

    to_csr_arrays = to_csr

    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointer of the unrolled synapses (derived on first use)."""
        return self._csr[0]

    @property
    def indices(self) -> np.ndarray:
        """Postsynaptic indices of the unrolled synapses."""
        return self._csr[1]

    @property
    def weights(self) -> np.ndarray:
        """Weights of the unrolled synapses."""
        return self._csr[2]

    def delays_per_synapse(self) -> np.ndarray:
        """Delays as a full ``(n_syn,)`` int64 array."""
        return np.broadcast_to(self.delays_ps, (self.n_synapses,))
