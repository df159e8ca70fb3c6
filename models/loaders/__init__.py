"""Trained networks in and out: NIR, Lava-DL netx and ``.npz`` files, and the import profiles
that say how each framework discretised its network."""
