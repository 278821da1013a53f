"""Recursive debate over long computations: the computation (`computation.py`), bisection played
by the engine (`bisection.py`, a `Game`), spot-checking and the judge alone (`spotcheck.py`),
doubly-efficient debate with a stochastic oracle (`stochastic.py`), the obfuscation stress test
(`obfuscated.py`), prover-estimator debate (`proverestimator.py`), and a running sum written as
text for judges that read (`addition.py`)."""
