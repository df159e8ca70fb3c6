"""IR drop on a crossbar tile: the exact nodal solution and the first-order estimate.

A tile of ``R x C`` cells: row ``r`` is driven at ``v[r]`` from the side of column 0 and runs
along the row wire; column ``c`` is sensed at virtual ground below row ``R - 1``. Each wire
segment between neighbouring cells (and between the driver and the first cell, the last cell
and the sense amplifier) has resistance ``r_row`` or ``r_col`` ohms. Cell ``(r, c)`` of
conductance ``g`` joins row-wire node ``u[r, c]`` to column-wire node ``w[r, c]`` and carries
``I = g (u - w)``.

* :func:`currents_exact` solves Kirchhoff's current law at all ``2 R C`` nodes (a sparse,
  symmetric positive-definite system; SciPy's sparse LU).
* :func:`currents_first_order` takes the wire currents of the ideal array (``g v``) to compute
  the drops, the estimate :func:`hardware.crossbar.devices.ir_drop_kernel` applies per read:
  ``I = g (v - r_row sum_m I0[r, m] (min(c, m) + 1) - r_col sum_n I0[n, c] (R - max(n, r)))``.
  It ignores that the drops themselves lower the currents, so it overstates the loss, most at
  high conductance and in large arrays (:func:`first_order_error`).

Conductances are in microsiemens, voltages in volts, currents in microamperes.
"""

from __future__ import annotations

import numpy as np


def _check(g, v, r_row, r_col):
    g = np.asarray(g, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if g.ndim != 2 or v.shape != (g.shape[0],):
        raise ValueError(f"g must be (R, C) and v (R,), got {g.shape} and {v.shape}")
    if r_row <= 0 or r_col <= 0:
        raise ValueError(f"wire resistances must be > 0 ohm, got r_row={r_row}, r_col={r_col}")
    return g, v


def currents_exact(g, v, r_row: float, r_col: float) -> np.ndarray:
    """Cell currents (µA, ``(R, C)``) from the nodal solution of the resistive network."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    g, v = _check(g, v, r_row, r_col)
    n_r, n_c = g.shape
    n = n_r * n_c
    gr = 1e6 / r_row                       # wire conductances in µS
    gc = 1e6 / r_col
    idx = np.arange(n).reshape(n_r, n_c)
    u_id, w_id = idx, idx + n
    rows, cols, vals = [], [], []

    def couple(a, b, cond):
        rows.extend([a, b, a, b])
        cols.extend([a, b, b, a])
        vals.extend([cond, cond, -cond, -cond])

    # Row wires: driver - u[r, 0] - u[r, 1] - ... ; column wires: w[0, c] - ... - w[R-1, c] - gnd.
    couple(u_id[:, :-1].ravel(), u_id[:, 1:].ravel(), np.full((n_r, n_c - 1), gr).ravel())
    couple(w_id[:-1, :].ravel(), w_id[1:, :].ravel(), np.full((n_r - 1, n_c), gc).ravel())
    couple(u_id.ravel(), w_id.ravel(), g.ravel())
    diag = np.zeros(2 * n)
    diag[u_id[:, 0]] += gr                 # to the driver
    diag[w_id[-1, :]] += gc                # to the virtual ground
    rhs = np.zeros(2 * n)
    rhs[u_id[:, 0]] = gr * v
    r_ix = np.concatenate([np.concatenate(rows), np.arange(2 * n)])
    c_ix = np.concatenate([np.concatenate(cols), np.arange(2 * n)])
    data = np.concatenate([np.concatenate(vals), diag])
    a = coo_matrix((data, (r_ix, c_ix)), shape=(2 * n, 2 * n)).tocsc()
    x = spsolve(a, rhs)
    return g * (x[:n] - x[n:]).reshape(n_r, n_c)


def currents_first_order(g, v, r_row: float, r_col: float) -> np.ndarray:
    """Cell currents (µA, ``(R, C)``) with the first-order IR-drop estimate (module doc)."""
    g, v = _check(g, v, r_row, r_col)
    n_r, n_c = g.shape
    i0 = g * v[:, None] * 1e-6                                   # A
    m = np.arange(n_c)
    row_w = np.minimum(m[:, None], m[None, :]) + 1.0              # (c, m)
    drop_row = r_row * (i0 @ row_w.T)                            # (R, C): sum_m I0[r,m] w(c,m)
    k = np.arange(n_r)
    col_w = n_r - np.maximum(k[:, None], k[None, :])             # (r, n)
    v_col = r_col * (col_w @ i0)                                 # (R, C): sum_n w(r,n) I0[n,c]
    return g * (v[:, None] - drop_row - v_col)


def first_order_error(size: int, g_us: float, r_wire: float, v_read: float = 0.4) -> dict:
    """IR drop of a ``size x size`` array with every cell at ``g_us`` and every row driven at
    ``v_read``: the current lost to the wires (fraction of the ideal total) by the exact solve
    and by the first-order estimate, and the first order's worst error on a column current
    relative to the exact one."""
    g = np.full((size, size), float(g_us))
    v = np.full(size, float(v_read))
    ideal = g * v[:, None]
    exact = currents_exact(g, v, r_wire, r_wire)
    first = currents_first_order(g, v, r_wire, r_wire)
    col_exact, col_first = exact.sum(axis=0), first.sum(axis=0)
    return {"size": size, "g_us": float(g_us), "r_wire_ohm": float(r_wire),
            "loss_exact": 1.0 - exact.sum() / ideal.sum(),
            "loss_first_order": 1.0 - first.sum() / ideal.sum(),
            "worst_column_error": float(np.max(np.abs(col_first - col_exact) / col_exact))}
