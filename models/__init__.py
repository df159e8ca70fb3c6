"""aersim's network models: neuron models, ``Network``, generators and loaders."""

from models.alif import ALIFParams
from models.conv import ConvProjection
from models.cuba import CubaLIFParams, CubaLIParams, LIParams
from models.egru import EGRUParams
from models.errors import ModelError, ModelWarning, NetworkError, ParameterError
from models.generators import brunel_network, ff_network, random_network
from models.integrator import IFParams, IntegratorParams
from models.lif import LIFParams
from models.loading import load_network, save_network
from models.loihi_cuba import LoihiCubaParams, weights_to_loihi
from models.network import Network, Population, Projection
from models.netx_io import load_netx
from models.profiles import PROFILES, ImportProfile, get_profile
from models.sigma_delta import SigmaDeltaParams
from models.source import InputParams

__all__ = [
    "ALIFParams", "ConvProjection", "CubaLIFParams", "CubaLIParams", "EGRUParams", "IFParams",
    "ImportProfile", "InputParams", "IntegratorParams", "LIFParams", "LIParams",
    "LoihiCubaParams", "ModelError", "ModelWarning", "Network", "NetworkError", "PROFILES",
    "ParameterError", "Population", "Projection", "SigmaDeltaParams", "brunel_network",
    "ff_network", "get_profile", "load_network", "load_netx", "random_network", "save_network",
    "weights_to_loihi",
]
