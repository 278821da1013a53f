"""Self-play actors: a batch of games between copies of one learned debater, and the training
positions they leave (state before each move, the mover, its action weights, the verdict)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from debate import rollout


def states_along(game, examples, actions_BxT, moved_BxT=None):
  """The state before each move of every game: a pytree with leading dims [B, T] (after a
  game's end, its final state)."""
  actions_BxT = jnp.asarray(actions_BxT)
  moved_BxT = actions_BxT >= 0 if moved_BxT is None else jnp.asarray(moved_BxT)
  states = rollout.replay(game, examples, actions_BxT, moved_BxT)
  return jax.tree.map(lambda x: x[:, :-1], states)


def positions(game, key, examples, transcript: dict, played_policy: bool = False,
              hints=None) -> dict:
  """Replay-buffer rows of a played batch: one per move made (a game that ended early leaves
  fewer). `played_policy`: the policy target is the move played (one-hot: policy gradient),
  not the mover's action weights. `hints(examples_N, states_N) -> [N, A]`: the move hints of
  every row, for a network that reads them."""
  actions = np.asarray(transcript["actions_BxT"])
  moved = np.asarray(transcript["moved_BxT"], bool)
  B, T = actions.shape
  states = jax.device_get(states_along(game, jax.tree.map(jnp.asarray, examples),
                                       jnp.asarray(actions), jnp.asarray(moved)))
  seats = np.asarray(transcript["seats_BxT"])
  won0 = np.asarray(transcript["seat0_wins_B"])[:, None]
  value = np.where((seats == 0) == won0, 1.0, -1.0).astype(np.float32)
  rows = moved.reshape(-1)
  flat = lambda x: np.asarray(x).reshape(B * T, *np.shape(x)[2:])[rows]
  policy = (np.eye(game.num_actions, dtype=np.float32)[np.maximum(actions, 0)] if played_policy
            else transcript["policy_BxTxA"])
  out = {"key": jax.tree.map(lambda x: np.repeat(np.asarray(x), T, axis=0)[rows], key),
         "state": jax.tree.map(flat, states), "seat": flat(seats),
         "policy": flat(policy), "value": flat(value)}
  if hints is not None:
    per_row = jax.tree.map(lambda x: np.repeat(np.asarray(x), T, axis=0)[rows], examples)
    out["hints"] = np.asarray(hints(per_row, out["state"]), np.float32)
  return out


def play(player, rng, judge_params, net_params, examples, batch_size: int, multiple: int):
  """Both seats play the same network: a transcript dict of numpy arrays."""
  return rollout.run_batched(player, rng, judge_params, examples, batch_size, multiple,
                             seat_params=(net_params, net_params))
