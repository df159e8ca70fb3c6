"""Latency from each input event to the output population's response.

For every input spike (an event replayed into the chip, or any spike of the input populations)
the latency is the time until the first spike of an output population at or after it. In
``async`` mode that is hardware time directly. In ``timestep`` mode an input that lands in step
``k_in`` is seen by the chip when that step starts, and an output spike of step ``k_out`` is known
when that step ends, so the hardware latency is the sum of the durations of steps
``k_in .. k_out``; the algorithmic latency ``(k_out - k_in) * dt`` is given beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class LatencyReport:
    """Per input event: ``t_in_ps`` (int64), ``latency_ps`` (int64 hardware latency, -1 when no
    output followed), ``algorithmic_ps`` (timestep mode: whole steps; async: equal to latency)."""

    t_in_ps: np.ndarray
    latency_ps: np.ndarray
    algorithmic_ps: np.ndarray

    def stats(self) -> dict:
        """Count, responded fraction and the distribution of answered latencies (seconds)."""
        ok = self.latency_ps >= 0
        lat = self.latency_ps[ok] * 1e-12
        out = {"events": int(self.t_in_ps.size), "responded": int(ok.sum())}
        if lat.size:
            out.update(mean_s=float(lat.mean()), p50_s=float(np.percentile(lat, 50)),
                       p95_s=float(np.percentile(lat, 95)), max_s=float(lat.max()))
        return out


def _mask(neuron: np.ndarray, network, names) -> np.ndarray:
    sel = np.zeros(neuron.shape, dtype=bool)
    for name in names:
        lo = network.offset(name)
        sel |= (neuron >= lo) & (neuron < lo + network.population(name).size)
    return sel


def response_latencies(results, network, inputs=None, outputs=None) -> LatencyReport:
    """Latency of the first output spike after every input spike of ``results``.

    Parameters
    ----------
    results : simcore.Results
    network : models.Network
    inputs, outputs : sequence of str, optional
        Population names (default: ``network.inputs`` and ``network.outputs``).
    """
    inputs = list(inputs or network.inputs)
    outputs = list(outputs or network.outputs)
    t, n = results.spikes_t_ps, results.spikes_neuron
    t_in = t[_mask(n, network, inputs)]
    t_out = np.sort(t[_mask(n, network, outputs)])
    k = np.searchsorted(t_out, t_in, side="left")
    has = k < t_out.size
    first = np.where(has, t_out[np.minimum(k, max(t_out.size - 1, 0))] if t_out.size else 0, 0)
    algorithmic = np.where(has, first - t_in, -1)
    if results.mode == "async":
        return LatencyReport(t_in, algorithmic, algorithmic)
    dt = results.info["dt_ps"]
    step0 = results.t_start_ps // dt
    ends = np.concatenate([[0], np.cumsum(results.step_duration_ps)])
    k_in = t_in // dt - step0
    k_out = first // dt - step0
    hw = np.where(has, ends[np.minimum(k_out + 1, ends.size - 1)] - ends[k_in], -1)
    return LatencyReport(t_in, hw, algorithmic)
