"""aersim's network models: neuron models, ``Network``, generators and loaders."""

from aersim.models.conv import ConvProjection
from aersim.models.errors import ModelError, ModelWarning, NetworkError, ParameterError
from aersim.models.generators import brunel_network, ff_network, random_network
from aersim.models.loaders.loading import load_network, save_network
from aersim.models.loaders.netx_io import load_netx
from aersim.models.loaders.profiles import PROFILES, ImportProfile, get_profile
from aersim.models.network import Network, Population, Projection, synapse_arena
from aersim.models.neurons.alif import ALIFParams
from aersim.models.neurons.cuba import CubaLIFParams, CubaLIParams, LIParams
from aersim.models.neurons.egru import EGRUParams
from aersim.models.neurons.integrator import IFParams, IntegratorParams
from aersim.models.neurons.lif import LIFParams
from aersim.models.neurons.loihi_cuba import LoihiCubaParams, weights_to_loihi
from aersim.models.neurons.sigma_delta import SigmaDeltaParams
from aersim.models.neurons.source import InputParams

__all__ = [
    "ALIFParams", "ConvProjection", "CubaLIFParams", "CubaLIParams", "EGRUParams", "IFParams",
    "ImportProfile", "InputParams", "IntegratorParams", "LIFParams", "LIParams",
    "LoihiCubaParams", "ModelError", "ModelWarning", "Network", "NetworkError", "PROFILES",
    "ParameterError", "Population", "Projection", "SigmaDeltaParams", "brunel_network",
    "ff_network", "get_profile", "load_network", "load_netx", "random_network", "save_network",
    "synapse_arena", "weights_to_loihi",
]
