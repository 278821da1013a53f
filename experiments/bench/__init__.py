"""The parts of `experiments/benchmark.py`, by what they measure."""
