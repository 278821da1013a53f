"""One debater that is any of several, chosen per call by `params["index"]` (a `lax.switch`):
a tournament compiles one player for every pairing instead of one per pair, and only the chosen
debater runs."""
from __future__ import annotations

import jax

from debate.debaters.base import Debater


def make_switch(debaters: list[Debater]) -> Debater:

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    branches = [lambda p, r, o, l, d=d: d.apply(p, r, o, l, batch_axes=batch_axes)
                for d in debaters]
    return jax.lax.switch(params["net"]["index"], branches,
                          {"judge": params["judge"], "net": params["net"]["params"]},
                          rng, obs, legal_BxA)

  return Debater("switch", apply)
