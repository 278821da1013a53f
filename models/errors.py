"""The one error type for bad input, at the bottom of the layers so that every package can raise
it: its message names the bad value and what is allowed. `debate.config` re-exports it as the
config loader's error; the runner turns it into one line and exit status 2."""
from __future__ import annotations


class ConfigError(ValueError):
  """A bad input value (a config key, a model file, a data row), with the value and what is
  allowed in its message."""
