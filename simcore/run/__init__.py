"""Run orchestration: ``Simulation``, stimuli, recording replay, latency, built-in runs."""
