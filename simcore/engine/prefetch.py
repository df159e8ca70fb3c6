"""``prefetch(array, i)``: ask the CPU to bring ``array[i]``'s cache line in, from a kernel.

Delivering a spike streams its synapses (``target``, ``weight``) from a place in tables far
larger than the caches; the hardware prefetcher only starts after a few misses of each stream
and stops at a page boundary, so a kernel that knows which spikes come next asks for the head of
their synapses ahead of time (``partitioned.deliver_step``: two spikes ahead). Measured on
Brunel's delivery, the synapses of one rank of two: 0.13-0.15 s without, 0.11-0.12 s with
(docs/performance.md).

The hint is LLVM's ``llvm.prefetch`` (read, high locality, data cache): it never faults, so any
index inside the array is safe, and it does nothing where the target has no such instruction.
"""

from __future__ import annotations

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# LLVM 15 and newer name the intrinsic after the opaque pointer type.
_NAME = "llvm.prefetch.p0" if binding.llvm_version_info >= (15,) else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, array, index):
    """Hint that ``array[index]`` (a 1-d array, an index inside it) is read soon."""
    if not (isinstance(array, types.Array) and array.ndim == 1
            and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ary = context.make_array(array_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, array_type, ary, [args[1]],
                                       wraparound=False)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]), _NAME)
        # (address, read = 0, locality 3 = keep in all levels, 1 = data cache)
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), ir.Constant(i32, 0),
                          ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen
