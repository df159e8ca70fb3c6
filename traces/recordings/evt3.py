"""Prophesee EVT 3.0: Numba decoder and encoder kernels over 16-bit words.

EVT 3.0 is a stateful stream: ``EVT_ADDR_Y`` sets the row, ``EVT_ADDR_X`` emits one event,
``VECT_BASE_X`` + ``VECT_12``/``VECT_8`` emit runs of pixels of one row, ``EVT_TIME_HIGH``/
``EVT_TIME_LOW`` set bits 23..12 and 11..0 of a 24-bit µs counter. Time semantics follow OpenEB:

* the counter wraps every 2**24 µs; a wrap is detected when TIME_HIGH falls by at least half its
  range (``old_high >= new_high + 2048``) and adds 2**24 to all later times;
* when TIME_HIGH changes, TIME_LOW restarts at 0; TIME_LOW overwrites the low 12 bits and may go
  back a few µs (cameras do this) -- such events are kept in file order and counted as regressions;
* CD words before the first TIME_HIGH have no time base and are dropped (counted as skipped);
* X/vector words after a type-0x1 (non-CD) row address are dropped (counted as skipped);
* vector groups may be truncated (OpenEB #111), so every word is decoded on its own;
* EXT_TRIGGER, OTHERS, CONTINUED and IMU words are skipped; the unused types 0x9, 0xB, 0xC are
  counted as invalid.

State array layout (``int64[8]``): row y, vector base x, vector polarity, TIME_HIGH (-1 before the
first), TIME_LOW, wrap loops, CD flag, unused.
"""

import numpy as np
from numba import njit

from aersim.traces.recordings.bitops import expand_mask
from aersim.traces.recordings.recording_base import (
    C_BAD,
    C_INVALID,
    C_LAST_T,
    C_REGRESSIONS,
    C_SKIPPED,
    C_TRIGGERS,
    C_WRAPS,
    S_BAD_RECORD,
    S_BAD_X,
    S_BAD_Y,
    S_FULL,
    S_OK,
)

EVT3_MAX_EVENTS_PER_WORD = 12


def new_evt3_state() -> np.ndarray:
    """Decoder state before the first word (see module docstring for the layout)."""
    state = np.zeros(8, dtype=np.int64)
    state[3] = -1
    state[6] = 1
    return state


@njit(cache=True)
def evt3_decode_kernel(words, pos, state, counters, out, width, height):
    """Decode EVT 3.0 words ``words[pos:]`` into ``out``.

    Parameters
    ----------
    words : ndarray of uint16, shape (n_words,)
    pos : int
        First word to decode.
    state : ndarray of int64, shape (8,)
        Decoder state, updated in place.
    counters : ndarray of int64, shape (8,)
        Statistics in the ``recording_base.C_*`` layout, updated in place.
    out : ndarray of EVENT_DTYPE, shape (capacity,)
    width, height : int
        Sensor size; a coordinate outside it stops decoding with an error status.

    Returns
    -------
    status : int
        ``S_OK`` when all words were consumed, ``S_FULL`` when ``out`` is full, else an error.
    next_pos : int
        Word to resume from (the offending word on error).
    n_out : int
        Events written to ``out``.
    """
    y = state[0]
    base = state[1]
    vpol = state[2]
    high = state[3]
    low = state[4]
    loops = state[5]
    is_cd = state[6]
    last_t = counters[C_LAST_T]
    cap = out.shape[0]
    n = 0
    i = pos
    nw = words.shape[0]
    status = S_OK
    while i < nw:
        w = np.int64(words[i])
        typ = w >> 12
        if typ == 0x0:
            y = w & 0x7FF
            is_cd = 1
            if y >= height:
                counters[C_BAD] = y
                status = S_BAD_Y
                break
        elif typ == 0x2:
            if high < 0 or is_cd == 0:
                counters[C_SKIPPED] += 1
            else:
                if n >= cap:
                    status = S_FULL
                    break
                x = w & 0x7FF
                if x >= width:
                    counters[C_BAD] = x
                    status = S_BAD_X
                    break
                t = (loops << 24) | (high << 12) | low
                if t < last_t:
                    counters[C_REGRESSIONS] += 1
                last_t = t
                out[n].t = t
                out[n].x = x
                out[n].y = y
                out[n].p = (w >> 11) & 1
                n += 1
        elif typ == 0x3:
            base = w & 0x7FF
            vpol = (w >> 11) & 1
        elif typ == 0x4 or typ == 0x5:
            nbits = 12 if typ == 0x4 else 8
            if high < 0 or is_cd == 0:
                counters[C_SKIPPED] += 1
            else:
                if n + nbits > cap:
                    status = S_FULL
                    break
                mask = w & ((1 << nbits) - 1)
                if mask != 0:
                    if base + nbits > width:  # rare: only then find the highest pixel
                        hb = nbits - 1
                        while (mask >> hb) == 0:
                            hb -= 1
                        if base + hb >= width:
                            counters[C_BAD] = base + hb
                            status = S_BAD_X
                            break
                    t = (loops << 24) | (high << 12) | low
                    if t < last_t:
                        counters[C_REGRESSIONS] += 1
                    last_t = t
                    n = expand_mask(out, n, t, base, y, vpol, mask)
            base += nbits
        elif typ == 0x6:
            low = w & 0xFFF
        elif typ == 0x8:
            new_high = w & 0xFFF
            if high >= 0:
                if high >= new_high + 2048:
                    loops += 1
                    counters[C_WRAPS] += 1
                if new_high != high:
                    low = 0
            high = new_high
        elif typ == 0x1:
            is_cd = 0
        elif typ == 0xA:
            counters[C_TRIGGERS] += 1
        elif typ == 0x7 or typ == 0xD or typ == 0xE or typ == 0xF:
            counters[C_SKIPPED] += 1
        else:
            counters[C_INVALID] += 1
        i += 1
    state[0] = y
    state[1] = base
    state[2] = vpol
    state[3] = high
    state[4] = low
    state[5] = loops
    state[6] = is_cd
    counters[C_LAST_T] = last_t
    return status, i, n


def _events_per_word() -> np.ndarray:
    """Events that each of the 65536 possible words can emit: 1 for EVT_ADDR_X, the set mask
    bits for VECT_12/VECT_8, 0 otherwise (uint8, shape (65536,))."""
    w = np.arange(1 << 16, dtype=np.int64)
    typ = w >> 12
    bits = (w[:, None] >> np.arange(12)) & 1
    table = np.where(typ == 0x4, bits.sum(1), 0)
    table = np.where(typ == 0x5, bits[:, :8].sum(1), table)
    return np.where(typ == 0x2, 1, table).astype(np.uint8)


#: ``EVENTS_PER_WORD[w]``: how many events word ``w`` emits at most (a 64 KiB table, which stays
#: in cache, so counting is one load per word).
EVENTS_PER_WORD = _events_per_word()


@njit(cache=True)
def evt3_count_kernel(words, table):
    """Upper bound of the events in EVT 3.0 ``words`` (uint16, shape (n,)): one per ADDR_X word
    plus the set bits of VECT_12/VECT_8 words (words before the first TIME_HIGH count too).
    ``table`` is :data:`EVENTS_PER_WORD`."""
    n = 0
    for i in range(words.shape[0]):
        n += table[words[i]]
    return n


@njit(cache=True)
def evt3_encode_kernel(t, x, y, p, start, state, words):
    """Encode events ``start:`` into EVT 3.0 words.

    Runs of events with equal t, y and p and increasing x within 32 columns become one vector
    group (VECT_BASE_X + VECT_12/VECT_8 words); other events become EVT_ADDR_X words. TIME_HIGH
    advances by at most 1024 steps per word so that the decoder's wrap rule never misfires.

    Parameters
    ----------
    t : ndarray of int64, shape (n,)
        Times in µs, already re-based so that they are >= 0.
    x, y : ndarray of uint16, shape (n,)
    p : ndarray of uint8, shape (n,)
    start : int
        First event to encode.
    state : ndarray of int64, shape (4,)
        Encoder state: current absolute TIME_HIGH (t >> 12, -1 before the first), TIME_LOW,
        row y (-1 before the first), unused.
    words : ndarray of uint16, shape (capacity,)

    Returns
    -------
    status : int
        ``S_OK``, ``S_FULL`` (call again from ``next_event``) or ``S_BAD_RECORD`` when an event goes
        back by more than 4 s, which EVT 3.0 cannot express.
    next_event : int
    n_words : int
    """
    cur_high = state[0]
    cur_low = state[1]
    cur_y = state[2]
    cap = words.shape[0]
    n = t.shape[0]
    k = 0
    i = start
    status = S_OK
    while i < n:
        ti = t[i]
        hi = ti >> 12
        lo = ti & 0xFFF
        # Worst case for one event or group: time words + Y + 4 vector words.
        steps = 0
        if cur_high >= 0 and hi > cur_high:
            steps = (hi - cur_high) // 1024
        if k + steps + 8 > cap:
            status = S_FULL
            break
        if hi != cur_high:
            if cur_high >= 0 and hi < cur_high - 1024:
                status = S_BAD_RECORD
                break
            if cur_high >= 0:
                while hi - cur_high > 1024:
                    cur_high += 1024
                    words[k] = 0x8000 | (cur_high & 0xFFF)
                    k += 1
            words[k] = 0x8000 | (hi & 0xFFF)
            k += 1
            cur_high = hi
            cur_low = 0
        if lo != cur_low:
            words[k] = 0x6000 | lo
            k += 1
            cur_low = lo
        yi = np.int64(y[i])
        if yi != cur_y:
            words[k] = yi & 0x7FF
            k += 1
            cur_y = yi
        # Extend a vector group while the next events share t, y, p with increasing x.
        x0 = np.int64(x[i])
        j = i + 1
        while (
            j < n
            and j - i < 32
            and t[j] == ti
            and y[j] == y[i]
            and p[j] == p[i]
            and x[j] > x[j - 1]
            and np.int64(x[j]) - x0 < 32
        ):
            j += 1
        pol = np.int64(p[i]) & 1
        if j - i == 1:
            words[k] = 0x2000 | (pol << 11) | x0
            k += 1
        else:
            words[k] = 0x3000 | (pol << 11) | x0
            k += 1
            span = np.int64(x[j - 1]) - x0
            mask = np.int64(0)
            for m in range(i, j):
                mask |= np.int64(1) << (np.int64(x[m]) - x0)
            words[k] = 0x4000 | (mask & 0xFFF)
            k += 1
            if span >= 12:
                words[k] = 0x4000 | ((mask >> 12) & 0xFFF)
                k += 1
            if span >= 24:
                words[k] = 0x5000 | ((mask >> 24) & 0xFF)
                k += 1
        i = j
    state[0] = cur_high
    state[1] = cur_low
    state[2] = cur_y
    return status, i, k
