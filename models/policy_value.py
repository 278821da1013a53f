"""The MNIST debaters' policy-value network (AlphaZero-style): what a debater sees -> a
distribution over its legal reveals and the expected verdict for the seat to move.

Input: the whole image, the revealed mask and the revealed pixels (three 28 x 28 planes), and the
two claims from the mover's side (its own and the other's, one-hot with a slot for "no claim").
The `*_greedy` architectures add a fourth plane, the judge's one-step response to each legal
reveal (`debate.debaters.simple.move_hints`: 1 on greedy's move, exp(margin - best) elsewhere),
computed by the engine at greedy's cost per move: copying greedy is then the easy baseline.
A small convolutional trunk at full resolution, each layer biased by the claims and by a global
pooling of the previous layer (so a pixel's score can depend on the whole board, as KataGo's
global pooling does), then per-pixel policy logits and a pooled value head (tanh).
Candidate slots read their pixel's logit; illegal slots get -inf, so exactly zero probability.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from models.errors import ConfigError

NUM_LABELS = 10
NUM_CLAIMS = NUM_LABELS + 1  # The labels, and "no claim".


@dataclasses.dataclass(frozen=True)
class NetArch:
  channels: int = 16
  layers: int = 4
  value_hidden: int = 64
  hints: bool = False  # a fourth plane: the judge's response to each legal reveal


ARCHS = {"small": NetArch(), "tiny": NetArch(channels=8, layers=2, value_hidden=16),
         "small_greedy": NetArch(hints=True),
         "tiny_greedy": NetArch(channels=8, layers=2, value_hidden=16, hints=True)}


class PolicyValueNet(nnx.Module):

  def __init__(self, arch: NetArch, *, rngs: nnx.Rngs):
    c = arch.channels
    self.stem = nnx.Conv(4 if arch.hints else 3, c, (5, 5), padding="SAME", rngs=rngs)
    self.convs = nnx.List([nnx.Conv(c, c, (3, 3), padding="SAME", rngs=rngs)
                           for _ in range(arch.layers - 1)])
    self.claims = nnx.List([nnx.Linear(2 * NUM_CLAIMS, c, rngs=rngs)
                            for _ in range(arch.layers)])
    self.pools = nnx.List([nnx.Linear(c, c, rngs=rngs) for _ in range(arch.layers - 1)])
    self.policy = nnx.Conv(c, 1, (1, 1), rngs=rngs)
    self.value1 = nnx.Linear(2 * c + 2 * NUM_CLAIMS, arch.value_hidden, rngs=rngs)
    self.value2 = nnx.Linear(arch.value_hidden, 1, rngs=rngs)

  def __call__(self, planes_BxHxWx3: jax.Array, claims_Bx2K: jax.Array
               ) -> tuple[jax.Array, jax.Array]:
    h = nnx.relu(self.stem(planes_BxHxWx3) + self.claims[0](claims_Bx2K)[:, None, None])
    for conv, claim, pool in zip(self.convs, self.claims[1:], self.pools):
      bias = claim(claims_Bx2K) + pool(h.mean((1, 2)))
      h = nnx.relu(conv(h) + bias[:, None, None]) + h
    logits_BxHxW = self.policy(h)[..., 0]
    pooled = jnp.concatenate([h.mean((1, 2)), h.max((1, 2)), claims_Bx2K], -1)
    value_B = jnp.tanh(self.value2(nnx.relu(self.value1(pooled)))[:, 0])
    return logits_BxHxW, value_B


def get_arch(name: str) -> NetArch:
  if name not in ARCHS:
    raise ConfigError(f"net.arch={name!r}; allowed: {sorted(ARCHS)}")
  return ARCHS[name]


# What the network reads of the pixel game, and the self-play Network built on it:
# `debate.games.mnist_network`.
