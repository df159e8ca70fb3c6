"""Crossbars for whole networks: tiling projections onto crossbars, the weight error they
cause, and the network as a crossbar chip would compute it (:func:`apply_crossbar`).

Built on the single-array model of :mod:`hardware.crossbar.array`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aersim.hardware.crossbar.array import (
    CrossbarState,
    _check_csr,
    _check_time,
    program,
    program_csr,
    read_weights,
)
from aersim.hardware.crossbar.devices import CrossbarSpec
from aersim.hardware.errors import HardwareError
from aersim.models.conv import ConvProjection
from aersim.models.network import Network, Projection

# ------------------------------------------------------------------------------------------------
# Tiling, error statistics, whole networks

@dataclass(frozen=True, eq=False)
class ProjectionTiles:
    """How the synapses of a CSR projection fall onto crossbar tiles.

    Presynaptic neuron ``i`` drives row ``i % rows`` of row block ``i // rows``; postsynaptic
    neuron ``j`` is sensed on column ``j % columns`` of column block ``j // columns``. Only tiles
    holding at least one synapse need a crossbar.

    Attributes
    ----------
    rows, columns : int
        Tile size (from the spec).
    grid : tuple of int
        ``(n_row_blocks, n_col_blocks)`` of the full weight matrix.
    tile_of : int32 (n_syn,)
        Index of each synapse's tile in the occupied-tile arrays below.
    local_row, local_col : int32 (n_syn,)
        Position of each synapse inside its tile.
    tile_row_block, tile_col_block : int32 (n_crossbars,)
        Grid position of each occupied tile.
    synapses_per_tile : int64 (n_crossbars,)
    n_multapses : int
        Synapses that repeat an earlier (pre, post) pair: they share one cell.
    """

    rows: int
    columns: int
    grid: tuple
    tile_of: np.ndarray
    local_row: np.ndarray
    local_col: np.ndarray
    tile_row_block: np.ndarray
    tile_col_block: np.ndarray
    synapses_per_tile: np.ndarray
    n_multapses: int

    @property
    def n_crossbars(self) -> int:
        """Number of crossbar tiles the projection needs (the mapper's capacity unit)."""
        return int(self.tile_row_block.shape[0])

    @property
    def utilisation(self) -> float:
        """Occupied cells over the cells of the needed tiles."""
        cells = self.n_crossbars * self.rows * self.columns
        return float(self.synapses_per_tile.sum() - self.n_multapses) / cells if cells else 0.0

    def tile_matrix(self, k: int, weights) -> np.ndarray:
        """Weights of occupied tile ``k`` as a float64 ``(rows, columns)`` array.

        Entry ``[r, c]`` is the weight from the tile's input row ``r`` to output column ``c``
        (the transpose of the ``(n_out, n_in)`` convention); multapses are summed.
        """
        if not 0 <= k < self.n_crossbars:
            raise HardwareError(f"tile {k} does not exist; the projection occupies "
                                f"{self.n_crossbars} tiles (0..{self.n_crossbars - 1})")
        sel = self.tile_of == k
        out = np.zeros((self.rows, self.columns), dtype=np.float64)
        np.add.at(out, (self.local_row[sel], self.local_col[sel]),
                  np.asarray(weights, dtype=np.float64)[sel])
        return out


def tile_projection(indptr, indices, weights, n_pre: int, n_post: int,
                    spec: CrossbarSpec) -> ProjectionTiles:
    """Split a CSR projection over ``spec.rows x spec.columns`` crossbar tiles.

    Parameters
    ----------
    indptr : int64 (n_pre + 1,)
    indices : int32 (n_syn,)
    weights : float (n_syn,)
        Checked (one per synapse, finite); :meth:`ProjectionTiles.tile_matrix` lays them out.
    n_pre, n_post : int
    spec : CrossbarSpec

    Returns
    -------
    ProjectionTiles
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    post = np.asarray(indices, dtype=np.int64)
    _check_csr(indptr, post, np.asarray(weights, dtype=np.float64), n_pre, n_post)
    pre = np.repeat(np.arange(n_pre, dtype=np.int64), np.diff(indptr))
    rb, lr = np.divmod(pre, spec.rows)
    cb, lc = np.divmod(post, spec.columns)
    n_cb = -(-n_post // spec.columns)
    tiles, tile_of, counts = np.unique(rb * n_cb + cb, return_inverse=True, return_counts=True)
    n_cells = np.unique(pre * n_post + post).shape[0]
    return ProjectionTiles(
        rows=spec.rows, columns=spec.columns, grid=(-(-n_pre // spec.rows), n_cb),
        tile_of=tile_of.astype(np.int32), local_row=lr.astype(np.int32),
        local_col=lc.astype(np.int32), tile_row_block=(tiles // n_cb).astype(np.int32),
        tile_col_block=(tiles % n_cb).astype(np.int32), synapses_per_tile=counts.astype(np.int64),
        n_multapses=int(post.shape[0] - n_cells))


def weight_error_stats(ideal, effective, state: CrossbarState | None = None) -> dict:
    """How far the effective weights are from the ideal ones.

    Parameters
    ----------
    ideal, effective : array_like of float, same shape
    state : CrossbarState, optional
        Gives ``fraction_stuck`` (NaN without it).

    Returns
    -------
    dict
        ``n``, ``mean_error``, ``std_error``, ``rms_error``, ``max_abs_error`` (weight units),
        ``relative_rms_error`` (rms error over the rms ideal weight), ``correlation`` (Pearson;
        NaN when either side is constant), ``fraction_stuck``.
    """
    a = np.asarray(ideal, dtype=np.float64).ravel()
    b = np.asarray(effective, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise HardwareError(f"ideal has {a.shape[0]} weights but effective has {b.shape[0]}; "
                            "compare arrays of the same shape")
    if a.size == 0:
        nan = float("nan")
        return {"n": 0, "mean_error": nan, "std_error": nan, "rms_error": nan,
                "max_abs_error": nan, "relative_rms_error": nan, "correlation": nan,
                "fraction_stuck": nan}
    d = b - a
    rms = float(np.sqrt(np.mean(d * d)))
    rms_ideal = float(np.sqrt(np.mean(a * a)))
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return {"n": int(a.size), "mean_error": float(d.mean()), "std_error": float(d.std()),
            "rms_error": rms, "max_abs_error": float(np.abs(d).max()),
            "relative_rms_error": rms / rms_ideal if rms_ideal > 0 else float("nan"),
            "correlation": corr,
            "fraction_stuck": state.stuck_fraction() if state is not None else float("nan")}


def apply_crossbar(network: Network, spec: CrossbarSpec, t_since_program_s: float,
                   seed: int = 0) -> tuple[Network, dict]:
    """The network as a crossbar chip would compute it: same structure, effective weights.

    Every projection is programmed onto its own crossbar tiles and read once at
    ``t_since_program_s``. CSR projections keep their ``indptr``, ``indices`` and delays (the
    arrays are shared, not copied); convolutions keep their geometry and get an effective kernel,
    stored once as ``(C_out, C_in/groups·kH·kW)`` on the crossbar and reused at every position.

    Parameters
    ----------
    network : models.Network
    spec : CrossbarSpec
    t_since_program_s : float
        Time of the read after programming, seconds.
    seed : int
        Projection ``k`` draws from child ``k`` of ``SeedSequence(seed)``.

    Returns
    -------
    (Network, dict)
        The new network, and per projection name the :func:`weight_error_stats` against the
        original weights plus ``n_crossbars`` (tiles used), ``layout`` (``"csr"`` or
        ``"conv_kernel"``) and ``quantisation_rms_error`` (ideal quantised vs original).
    """
    t = _check_time(t_since_program_s)
    children = np.random.SeedSequence(seed).spawn(len(network.projections))
    out = Network(populations=dict(network.populations), projections=[],
                  inputs=list(network.inputs), outputs=list(network.outputs),
                  metadata=dict(network.metadata, crossbar=spec.name, crossbar_t_s=t,
                                crossbar_seed=seed))
    report = {}
    for proj, child in zip(network.projections, children, strict=True):
        rng_prog, rng_read = (np.random.default_rng(s) for s in child.spawn(2))
        if isinstance(proj, ConvProjection):
            ideal = proj.weight.reshape(proj.weight.shape[0], -1).astype(np.float64)
            state = program(ideal, spec, rng_prog)
            eff = read_weights(state, spec, t, rng_read)
            out.add_projection(ConvProjection(
                proj.name, proj.pre, proj.post, eff.reshape(proj.weight.shape).astype(np.float32),
                proj.geometry, proj.delays_ps, proj.source))
            layout = "conv_kernel"
        else:
            indptr, indices, weights, delays = proj.to_csr_arrays()
            ideal = weights.astype(np.float64)
            state = program_csr(indptr, indices, ideal, network.population(proj.pre).size,
                                network.population(proj.post).size, spec, rng_prog)
            eff = read_weights(state, spec, t, rng_read)
            out.add_projection(Projection(proj.name, proj.pre, proj.post, indptr, indices,
                                          eff.astype(np.float32), delays))
            layout = "csr"
        stats = weight_error_stats(ideal, eff, state)
        stats["quantisation_rms_error"] = float(np.sqrt(np.mean(
            (state.w_target - state.layout(ideal).ravel()) ** 2))) if ideal.size else 0.0
        stats["n_crossbars"] = int(np.unique(state.tile).shape[0])
        stats["layout"] = layout
        report[proj.name] = stats
    return out, report

