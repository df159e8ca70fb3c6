"""Design-space sweeps: specs, the Dask runner, the result table and its plots."""
