"""Input populations: neurons without dynamics whose spikes come from a stimulus.

An input population stands for whatever feeds the chip — the pixels of an event camera, a spike
file, a Poisson generator. Its spikes are produced by the stimulus attached at run time and then
travel through the chip like any other spike (spike-out, network-on-chip, synapses).
"""

from dataclasses import dataclass

from aersim.models.neurons.registry import NeuronModel, register


@dataclass(frozen=True)
class InputParams:
    """Parameters of an input population (there are none: it only relays stimulus spikes)."""

    kind = "input"

    def per_neuron(self, n: int) -> dict:
        """No per-neuron parameters."""
        return {}


MODEL = register(NeuronModel("source", kinds=("input",), columns=lambda params, p, n: {},
                             code=0))
