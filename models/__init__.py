"""aersim's network models: neuron models, ``Network``, generators and loaders."""

from models.conv import ConvProjection
from models.cuba import CubaLIFParams, CubaLIParams, LIParams
from models.errors import ModelError, ModelWarning, NetworkError, ParameterError
from models.generators import brunel_network, ff_network, random_network
from models.integrator import IFParams, IntegratorParams
from models.lif import LIFParams
from models.loading import load_network, save_network
from models.network import Network, Population, Projection
from models.profiles import PROFILES, ImportProfile, get_profile
from models.source import InputParams

__all__ = [
    "ConvProjection", "CubaLIFParams", "CubaLIParams", "IFParams", "ImportProfile",
    "InputParams", "IntegratorParams", "LIFParams", "LIParams", "ModelError", "ModelWarning",
    "Network", "NetworkError", "PROFILES", "ParameterError", "Population", "Projection",
    "brunel_network", "ff_network", "get_profile", "load_network", "random_network",
    "save_network",
]
