"""Debate verdicts as rewards, for any task, and the distilled reward model R(input).

`debate_verdicts` is the one primitive every use of debate calls: precommit debates between two
claims per example, both sides played by the same debater, judged by the task's judge. Claim `a`
(seat 0, moving first) wins when the judge's logit for `a` beats the logit for `b`.

For a policy's answer `a`, the opponent argues for the strongest alternative: the debaters see the
whole example (and so the truth), so the alternative is the true claim when `a` is wrong and the
judge's favourite wrong claim when `a` is right (`strongest_alternative`). The learner never sees
the truth: only the verdict.

The distilled reward model scores every claim of an example in one forward pass:
`R(**task.inputs(ids)) -> logits_BxC`, `sigmoid(logits[a])` = P(a wins the debate). Use it from
another project with `load_reward_model(workdir)` (see `ScoredRewardModel.score`).
"""
from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from debate import io, protocols, rollout
from debate.config import ConfigError
from debate.debaters import make_debater
from debate.tasks import base as task_base


@dataclasses.dataclass
class DebateSettings:
  debater: str = "mcts"
  sims: int = 16
  batch_size: int = 256


def strongest_alternative(truth, answers, best_lie) -> np.ndarray:
  """The opponent's claim against `answers`: the truth if the answer is wrong, else the best lie."""
  truth, answers = np.asarray(truth), np.asarray(answers)
  return np.where(answers == truth, np.asarray(best_lie), truth).astype(np.int32)


def debate_verdicts(task, judge_apply, judge_params, ids, claim_a, claim_b,
                    settings: DebateSettings, runtime=None, seed: int = 0) -> dict[str, np.ndarray]:
  """Plays one precommit debate per row on example `ids[i]`: `a` (seat 0, moving first) against
  `b` (who has the last word in an alternating game).

  Returns `a_wins` (bool), the judge's final `margin` (logit a - logit b) and the number of
  judge calls spent per game.
  """
  ids = np.asarray(ids, np.int32)
  claim_a, claim_b = np.asarray(claim_a, np.int32), np.asarray(claim_b, np.int32)
  if (claim_a == claim_b).any():
    raise ValueError("each debate needs two different claims")
  # The precommit verdict reads only the two claims; which one is true matters to the metrics.
  truth_seat = np.where(claim_a == task.truth(ids), 0, 1).astype(np.int32)
  key = task_base.GameKey(ids, np.stack([claim_a, claim_b], 1), np.zeros_like(ids), truth_seat)
  player, d = debate_player(task.game, judge_apply, settings, runtime)
  ndata = 1 if runtime is None else runtime.shards
  out = rollout.run_batched(player, jax.random.PRNGKey(seed), judge_params, task.examples(key),
                            settings.batch_size, multiple=ndata)
  calls = task.game.max_turns * (d.judge_calls(task.game.num_actions) + 1)
  return {"a_wins": out["seat0_wins_B"], "margin": out["seat0_margin_B"], "judge_calls": calls}


def debate_player(game, judge_apply, settings: DebateSettings, runtime=None):
  """(jitted player, debater): precommit games, seat 0 (claim a) first, both seats the same
  debater; the player takes `(rng, judge_params, seat_params, examples)`."""
  protocol = protocols.Protocol(precommit=True, first=0)
  d = make_debater(settings.debater, game, protocol, judge_apply, sims=settings.sims)
  return rollout.make_player(runtime, game=game, protocol=protocol, debaters=(d, d),
                             judge_apply=judge_apply), d


TRUTH_RULES = ("paper", "best_lie")


def with_truth_rule(table_NxC, truth_N, best_lie_N, truth_rule: str) -> np.ndarray:
  """The table with each truth's entry recomputed from its games against the lies (the wrong
  claims' entries): under `paper` it wins only if no lie won; under `best_lie` unless the lie
  the judge favours without debate won."""
  table = np.array(table_NxC, bool)
  n, c = table.shape
  rows, truth = np.arange(n), np.asarray(truth_N)
  lies = np.where(np.arange(c)[None] == truth[:, None], False, table)
  if truth_rule == "paper":
    table[rows, truth] = ~lies.any(1)
  elif truth_rule == "best_lie":
    table[rows, truth] = ~lies[rows, np.asarray(best_lie_N)]
  else:
    raise ConfigError(f"truth_rule={truth_rule!r}; allowed: {list(TRUTH_RULES)}")
  return table


def verdict_table(task, judge_apply, judge_params, ids, settings: DebateSettings, runtime=None,
                  seed: int = 0, rng=None, truth_rule: str = "paper") -> dict[str, np.ndarray]:
  """Debate verdict for every (example, claim): V[i, a] = 1 if claim a wins against the strongest
  alternative. `num_claims - 1` games per example (each wrong claim, moving first, against the
  truth). The truth's own entry, under the paper's rule (`truth_rule="paper"`, Irving et al.
  2018: the liar wins if any liar wins), is whether it beat every lie; `"best_lie"` reads only
  its game against the lie the judge favours without debate (one of the same games)."""
  ids = np.asarray(ids, np.int32)
  n, c = len(ids), task.num_claims
  truth = task.truth(ids)
  rng = jax.random.PRNGKey(seed) if rng is None else rng
  best = task_base.best_wrong(task.judge_probs(judge_apply, judge_params, ids, rng), truth)
  lies = task_base.wrong_claims(truth, c)  # [N, C - 1]
  res = debate_verdicts(task, judge_apply, judge_params, np.repeat(ids, c - 1),
                        lies.reshape(-1), np.repeat(truth, c - 1), settings, runtime, seed)
  lie_wins = res["a_wins"].reshape(n, c - 1)
  table = np.zeros((n, c), bool)
  table[np.arange(n)[:, None], lies] = lie_wins
  table = with_truth_rule(table, truth, best, truth_rule)
  return {"table_NxC": table, "best_lie": best, "judge_calls_per_game": res["judge_calls"],
          "games": (c - 1) * n}


# The distilled reward model: save and load ---------------------------------------------------------

def _module_class(meta: dict):
  """The reward model's class from its `module` ("package.module:Class") in the saved meta."""
  name = meta.get("module")
  if not isinstance(name, str) or ":" not in name:
    raise ConfigError(f"reward model meta names module={name!r}; allowed: 'package.module:Class'"
                      " (written by a finished distillation run)")
  path, cls = name.split(":")
  return getattr(importlib.import_module(path), cls)


@dataclasses.dataclass
class ScoredRewardModel:
  """A trained reward model: `score(inputs, claims)` -> P(claim wins the debate), one pass.
  `meta["module"]` names its class, `meta["kwargs"]` its constructor's arguments."""
  params: Any
  meta: dict

  def __post_init__(self):
    from debate.train.trainer import functionalize
    cls, kwargs = _module_class(self.meta), dict(self.meta.get("kwargs", {}))
    functional = functionalize(lambda r: cls(**kwargs, rngs=r))
    self._logits = jax.jit(lambda p, x: functional.module(p)(**x))

  def logits(self, inputs: dict) -> jax.Array:
    """inputs: what the task's `inputs(ids)` gives (a dict of arrays, leading dim B)."""
    return self._logits(self.params, jax.tree.map(jnp.asarray, inputs))

  def score(self, inputs: dict, claims_B) -> np.ndarray:
    claims = jnp.asarray(claims_B, jnp.int32)
    logits = self.logits(inputs)
    return np.asarray(jax.nn.sigmoid(jnp.take_along_axis(logits, claims[:, None], 1)[:, 0]))


def save_reward_model(workdir: str, params, meta: dict) -> None:
  _module_class(meta)
  path = os.path.abspath(os.path.join(workdir, "reward_model"))
  from debate.train.checkpoint import save_params
  save_params(os.path.join(path, "params"), params)
  io.atomic_write_json(os.path.join(path, "reward_model.json"), meta)


def load_reward_model(workdir: str) -> ScoredRewardModel:
  """Loads the reward model saved by a distillation run (`configs/distill_reward.py`)."""
  import orbax.checkpoint as ocp
  path = os.path.abspath(os.path.join(workdir, "reward_model"))
  meta_path = os.path.join(path, "reward_model.json")
  if not os.path.exists(meta_path):
    raise ConfigError(f"{workdir!r} holds no reward model ({meta_path} is missing); allowed: the "
                      "workdir of a finished configs/distill_reward.py run")
  params = ocp.StandardCheckpointer().restore(os.path.join(path, "params"))
  return ScoredRewardModel(jax.tree.map(jnp.asarray, params), io.read_json(meta_path))
