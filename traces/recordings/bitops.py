"""Bit scans for the Numba kernels that expand pixel masks (EVT 2.1, EVT 3.0 vector words).

A mask of set pixels is expanded by jumping from one set bit to the next (``trailing_zeros``,
then ``mask &= mask - 1``), so the loop runs once per event rather than once per bit, and its
only unpredictable branch is the exit. LLVM lowers the count to one instruction (``tzcnt`` or
``bsf``).
"""

from numba import njit
from numba.core import cgutils, types
from numba.core.extending import intrinsic


@intrinsic
def trailing_zeros(typingctx, value):
    """Number of zero bits below the lowest set bit of an ``int64`` (undefined for 0)."""
    if not isinstance(value, types.Integer):
        return None
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        (arg,) = args
        # the second operand says that 0 gives an undefined result: callers never pass 0
        return builder.cttz(arg, cgutils.true_bit)

    return sig, codegen


@njit(cache=True, inline="always")
def expand_mask(out, n, t, x0, y, p, mask):
    """Write one event per set bit of ``mask`` (int64; none for 0) into ``out[n:]`` (an event record
    array): time ``t``, column ``x0`` plus the bit's index, row ``y``, polarity ``p``; lowest
    bit first. Returns the next free row."""
    while mask != 0:
        out[n].t = t
        out[n].x = x0 + trailing_zeros(mask)
        out[n].y = y
        out[n].p = p
        n += 1
        mask &= mask - 1
    return n
