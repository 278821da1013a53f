"""Recursive debate over long computations: the computation (`computation.py`), bisection played
by the engine (`bisection.py`, a `Game`), spot-checking (`spotcheck.py`), doubly-efficient debate
with a stochastic oracle (`stochastic.py`), the obfuscation stress test (`obfuscated.py`) and
prover-estimator debate (`proverestimator.py`)."""
