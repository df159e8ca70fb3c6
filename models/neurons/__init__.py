"""Neuron models: each module holds one model's parameters, equations and Numba kernels."""
