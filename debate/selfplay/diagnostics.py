"""How close a learned policy is to greedy, move by move: why the network alone does or does not
play like greedy (`experiments/benchmark.py --parts imitation`).

Along greedy-vs-greedy games, at every position: does the network's most likely legal move equal
greedy's, how far down the network's ranking greedy's move sits, and how much judge margin the
mover gives up by playing the network's move instead of greedy's (greedy's move is the best
one-ply move by definition, so this "regret" is >= 0).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from debate import rollout
from debate.debaters.base import Env, for_seat
from debate.debaters.simple import make_greedy, scores_of_moves
from debate.selfplay.actors import states_along


def imitation_gap(game, protocol, judge_apply, judge_params, guide, net_params,
                  examples, teacher_temperature: float = 0.5) -> dict:
  """Also the soft teacher's targets at `teacher_temperature` (self-play's warm start): their
  entropy and the probability they give greedy's move, i.e. how sharp what the network
  imitated was."""
  greedy = make_greedy(game, protocol, judge_apply)
  play = jax.jit(lambda rng, ex: rollout.play(rng, judge_params, (None, None), ex, game=game,
                                              protocol=protocol, debaters=(greedy, greedy),
                                              judge_apply=judge_apply))
  examples = jax.tree.map(jnp.asarray, examples)
  tr = play(jax.random.PRNGKey(0), examples)
  states = states_along(game, examples, tr.actions_BxT)  # [B, T] leading dims
  env = Env(game, protocol, judge_apply, judge_params)

  @jax.jit
  def at(state_B):
    legal = env.legal(examples, state_B)
    own = for_seat(scores_of_moves(env, examples, state_B, legal),
                   env.seat(examples, state_B)[:, None])
    own = jnp.where(legal, own, -jnp.inf)
    logits, _ = guide(net_params, examples, state_B)
    best, pick = jnp.argmax(own, -1), jnp.argmax(logits, -1)
    take = lambda x, i: jnp.take_along_axis(x, i[:, None], 1)[:, 0]
    rank = (jnp.where(legal, logits, -jnp.inf) > take(logits, best)[:, None]).sum(-1)
    p = jax.nn.softmax(own / teacher_temperature, -1)
    entropy = -jnp.sum(jnp.where(legal, p * jnp.log(jnp.maximum(p, 1e-30)), 0.0), -1)
    return best == pick, own.max(-1) - take(own, pick), rank, legal.sum(-1), entropy, p.max(-1)

  rows = []
  for t in range(game.max_turns):
    agree, regret, rank, n_legal, entropy, p_best = jax.device_get(
        at(jax.tree.map(lambda x: x[:, t], states)))
    rows.append({"move": t + 1, "agreement": float(np.mean(agree)),
                 "margin_regret_mean": float(np.mean(regret)),
                 "margin_regret_median": float(np.median(regret)),
                 "greedy_rank_median": float(np.median(rank)),
                 "legal_moves_mean": float(np.mean(n_legal)),
                 "teacher_entropy_mean": float(np.mean(entropy)),
                 "teacher_p_greedy_move_mean": float(np.mean(p_best))})
  return {"games": int(tr.actions_BxT.shape[0]), "per_move": rows,
          "teacher_temperature": teacher_temperature,
          "agreement": float(np.mean([r["agreement"] for r in rows])),
          "greedy_honest_win_rate": float(np.mean(jax.device_get(tr.honest_wins_B)))}
