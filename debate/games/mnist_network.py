"""The MNIST pixel game's learned-debater network: what `models.policy_value.PolicyValueNet`
reads of an observation (the image, the revealed mask and pixels, and optional move hints as
planes; both claims from the mover's side), and the self-play `Network` and search guide built
on it (`debate.selfplay.learner.make_network`)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from debate.games import mnist_pixels as g
from debate.selfplay.learner import make_network
from models.policy_value import NUM_CLAIMS, NetArch, PolicyValueNet

assert NUM_CLAIMS == g.NUM_LABELS + 1


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
