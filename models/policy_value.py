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

from debate.games import mnist_pixels as g

NUM_CLAIMS = g.NUM_LABELS + 1  # The labels, and "no claim".


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
  from debate.config import ConfigError
  if name not in ARCHS:
    raise ConfigError(f"net.arch={name!r}; allowed: {sorted(ARCHS)}")
  return ARCHS[name]


def features(obs: g.Observation) -> tuple[jax.Array, jax.Array]:
  """(planes_BxHxWxC, claims_Bx2K) of a batch of observations, from the observer's seat (C = 3,
  or 4 with move hints)."""
  ex, st = obs.example, obs.state
  mask = jax.vmap(g.mask_HxW)(ex, st.revealed_P).astype(jnp.float32)
  image = ex.image_HxW.astype(jnp.float32)
  planes = [image, mask, mask * image]
  if obs.hints is not None:  # Each candidate slot's hint at its pixel (padding slots: 0).
    flat = jnp.zeros((image.shape[0], image.shape[1] * image.shape[2]), jnp.float32)
    rows = jnp.arange(image.shape[0])[:, None]
    flat = flat.at[rows, ex.cand_P].max(obs.hints.astype(jnp.float32))
    planes.append(flat.reshape(image.shape))
  planes = jnp.stack(planes, -1)
  own = jnp.take_along_axis(ex.claims_2, obs.seat[:, None], 1)[:, 0]
  other = jnp.take_along_axis(ex.claims_2, 1 - obs.seat[:, None], 1)[:, 0]
  onehot = lambda c: jax.nn.one_hot(jnp.where(c < 0, g.NUM_LABELS, c), NUM_CLAIMS)
  return planes, jnp.concatenate([onehot(own), onehot(other)], -1)


def network(arch: NetArch):
  """The network self-play trains (`debate.selfplay.learner.Network`) and its search guide:
  `guide(net_params, example_B, state_B) -> (logits_BxA, value_B)` for the seat to move, slot
  logits (illegal: -inf) and the value."""
  from debate.selfplay.learner import make_network
  return make_network(lambda rngs: PolicyValueNet(arch, rngs=rngs), evaluate, g.to_move,
                      hints=arch.hints)


def make_guide(arch: NetArch):
  return network(arch).guide


def apply_obs(functional, net_params, obs: g.Observation) -> tuple[jax.Array, jax.Array]:
  """Slot logits (illegal slots -inf) and value for the observer."""
  return evaluate(functional.module(net_params), obs)


def evaluate(net: PolicyValueNet, obs: g.Observation) -> tuple[jax.Array, jax.Array]:
  planes, claims = features(obs)
  logits_BxHxW, value = net(planes, claims)
  flat = logits_BxHxW.reshape(logits_BxHxW.shape[0], -1)
  slot_logits = jnp.take_along_axis(flat, obs.example.cand_P, axis=1)
  legal = jax.vmap(g.legal)(obs.example, obs.state)
  return jnp.where(legal, slot_logits, -jnp.inf), value
