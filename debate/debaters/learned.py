"""Learned debaters: the policy-value network alone (one network call per move) and the
network-guided search (its policy as PUCT's prior; its leaves valued by `evaluator`: the
network's value head, "net", or the judge on the partial view, "judge", the choice the self-play
run recorded in its `net.json`)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from debate.debaters.base import Debater, DebaterOutput, Env, call_guide
from debate.debaters.mcts import make_mcts


def make_learned(guide, *, sample: bool = False, temperature: float = 1.0, game=None,
                 protocol=None, judge_apply=None) -> Debater:
  """The network alone: its most likely legal move (or a sample at `temperature`). Learned
  parameters come in `params["net"]`. A network that reads move hints (`guide.wants_hints`)
  needs the game, protocol and judge to compute them (greedy's cost per move)."""
  hints = getattr(guide, "wants_hints", False)
  if hints and judge_apply is None:
    raise ValueError("this network reads move hints: make_learned needs game, protocol, judge")

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    env = Env(game, protocol, judge_apply, params.get("judge"), tuple(batch_axes))
    logits, value = call_guide(guide, params["net"], obs.example, obs.state, env)
    logits = jnp.where(legal_BxA, logits, -jnp.inf)
    weights = jax.nn.softmax(logits, axis=-1)
    if sample:
      env = Env(None, None, None, None, tuple(batch_axes))
      gumbel = env.random(jax.random.gumbel, rng, logits.shape)
      action = jnp.argmax(jnp.where(legal_BxA, logits / temperature + gumbel, -jnp.inf), -1)
    else:
      action = jnp.argmax(logits, axis=-1)
    return DebaterOutput(action.astype(jnp.int32), weights, value)

  return Debater("learned", apply, deterministic=not sample,
                 judge_calls=(lambda a: a) if hints else (lambda a: 0))


def make_learned_mcts(game, protocol, judge_apply, guide, num_simulations: int,
                      c_puct: float = 1.0, evaluator: str = "net",
                      sample: bool = False) -> Debater:
  return make_mcts(game, protocol, judge_apply, num_simulations, c_puct, evaluator=evaluator,
                   prior="net", guide=guide, name="learned_mcts", sample=sample)
