"""Self-play actors: a batch of games between copies of one learned debater, and the training
positions they leave (state before each move, the mover, its action weights, the verdict)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from debate import rollout


@functools.partial(jax.jit, static_argnums=0)
def states_along(game, examples, actions_BxT):
  """The state before each move of every game: a pytree with leading dims [B, T]."""
  state0 = jax.vmap(game.init)(examples)

  def body(state, a_B):
    return jax.vmap(game.step)(examples, state, a_B), state

  _, states = jax.lax.scan(body, state0, actions_BxT.T)
  return jax.tree.map(lambda x: jnp.moveaxis(x, 0, 1), states)


def positions(game, key, examples, transcript: dict) -> dict:
  """Replay-buffer rows of a played batch (leading dim B * T)."""
  actions = np.asarray(transcript["actions_BxT"])
  B, T = actions.shape
  states = jax.device_get(states_along(game, jax.tree.map(jnp.asarray, examples),
                                       jnp.asarray(actions)))
  seats = np.asarray(transcript["seats_BxT"])
  won0 = np.asarray(transcript["seat0_wins_B"])[:, None]
  value = np.where((seats == 0) == won0, 1.0, -1.0).astype(np.float32)
  flat = lambda x: np.asarray(x).reshape(B * T, *np.shape(x)[2:])
  return {"key": jax.tree.map(lambda x: np.repeat(np.asarray(x), T, axis=0), key),
          "state": jax.tree.map(flat, states), "seat": flat(seats),
          "policy": flat(transcript["policy_BxTxA"]), "value": flat(value)}


def play(player, rng, judge_params, net_params, examples, batch_size: int, multiple: int):
  """Both seats play the same network: a transcript dict of numpy arrays."""
  return rollout.run_batched(player, rng, judge_params, examples, batch_size, multiple,
                             seat_params=(net_params, net_params))
