"""Simulator output: the HDF5 trace writer and reader, reports, comparisons and plots."""
