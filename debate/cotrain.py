"""Judges co-trained with their debaters, for any two-claim task: the judge learns from the
transcripts of debaters who play against it, round after round.

Round 0: the `opening` debaters, who need no judge (random play, or a game's own heuristic:
a judge trained from scratch on random quotes rarely sees the quote that decides a question,
and learns nothing it could use later). Round r: the debaters play against round r-1's judge, on
questions no earlier round or protocol played (a judge that saw a question's answer before could
answer it again without reading the transcript); the judge is then retrained, warm, on every
round's transcripts so far, one protocol per batch (`judging.GroupedBatches`). Each round's games
are kept in the workdir and each round's judge in its checkpoints, so a stopped run resumes.
Games are stored whole (`save_games`) and can be re-judged by another judge without replaying
them (`rejudge`).
"""
from __future__ import annotations

import logging
import os
from typing import Callable

import jax
import numpy as np

from debate import io, judging, rollout
from debate.protocols import Protocol
from debate.tasks import base as task_base
from debate.train import trainer

PRECOMMIT = Protocol(precommit=True)


def balanced_keys(task, ids, rng: np.random.Generator | None) -> task_base.GameKey:
  """Games of a two-claim task: the truth in seat 0 or 1 and either seat first, half each (at
  random with `rng`, else alternating: an evaluation set is exactly balanced)."""
  ids = np.asarray(ids, np.int32)
  n = len(ids)
  if rng is None:
    seat, first = np.arange(n) % 2, (np.arange(n) // 2) % 2
  else:
    seat, first = rng.integers(0, 2, n), rng.integers(0, 2, n)
  truth = task.truth(ids)
  claims = np.where(seat[:, None] == 0, np.stack([truth, 1 - truth], 1),
                    np.stack([1 - truth, truth], 1))
  return task_base.GameKey(ids, claims.astype(np.int32), first.astype(np.int32),
                           seat.astype(np.int32))


class Players:
  """Compiled players by (game, debater spec), both seats the same debater; `make(task, spec)`
  builds the debater."""

  def __init__(self, make: Callable, judge_apply, runtime, play_batch: int):
    self.make, self.judge_apply, self.runtime = make, judge_apply, runtime
    self.play_batch, self._cache = play_batch, {}
    self.ndata = runtime.shards

  def play(self, task, key, spec: str, judge_params, seed: int, label: str,
           net_params=None) -> dict:
    """`net_params`: a learned debater's network (both seats), for the learned specs."""
    if (task.game, spec) not in self._cache:
      d = self.make(task, spec)
      self._cache[task.game, spec] = rollout.make_player(
          self.runtime, game=task.game, protocol=PRECOMMIT, debaters=(d, d),
          judge_apply=self.judge_apply)
    return rollout.run_batched(self._cache[task.game, spec], jax.random.PRNGKey(seed),
                               judge_params, task.examples(key), self.play_batch, self.ndata,
                               seat_params=(net_params, net_params), label=label)


def cotrain(tasks: dict, players: Players, judge_init, *, debater: str, opening: str, rounds: int,
            games_per_round: int, steps_per_round: int, batch_size: int, learning_rate: float,
            seed: int, runtime, workdir: str, log_every: int = 100,
            checkpoint_every: int = 500) -> tuple:
  """(judge params, history): per round, the debaters' spec and the judge's accuracy in each
  protocol's new games before it retrains on them (round 0: None)."""
  params, history = None, []
  data_dir = os.path.join(workdir, "judge_data")
  os.makedirs(data_dir, exist_ok=True)
  datasets = {name: [] for name in tasks}
  blank = trainer.init_params(judge_init, jax.random.PRNGKey(0))  # The opening never reads it.
  for r in range(rounds):
    spec = opening if r == 0 else debater
    rng = np.random.default_rng([seed, r])
    row = {"round": r, "debater": spec}
    for i, (name, task) in enumerate(tasks.items()):
      path = os.path.join(data_dir, f"round{r}_{name}.npz")
      start = (r * len(tasks) + i) * games_per_round  # Questions of its own, while they last.
      key = balanced_keys(task, (start + np.arange(games_per_round)) % len(task), rng)
      if os.path.exists(path):
        f = io.load_npz(path)
        data = {"view": (f["view"],), "target": f["target"]}
        row[name] = None if np.isnan(f["accuracy"]) else float(f["accuracy"])
      else:
        out = players.play(task, key, spec, params if r else blank, seed + 1000 * r,
                           f"  round {r} {name}: games")
        data = judging.views_of(task.game, task.examples(key), out)
        row[name] = judging.verdict_metrics(out)["accuracy"] if r else None
        io.save_npz(path, view=data["view"][0], target=data["target"],
                 accuracy=np.nan if row[name] is None else row[name])
      datasets[name].append(data)
    res = judging.train_judge(
        judge_init, [judging.merge(d) for d in datasets.values()], runtime=runtime,
        steps=steps_per_round, batch_size=batch_size,
        learning_rate=learning_rate, seed=seed + r, workdir=workdir, name=f"judge_round{r}",
        start_params=params, log_every=log_every, checkpoint_every=checkpoint_every)
    params = res.params
    row["train_loss"] = res.last_metrics.get("loss")
    history.append(row)
    logging.info("co-training round %d/%d (%s debaters): judge accuracy in their games %s",
                 r + 1, rounds, spec, {k: v for k, v in row.items() if k in tasks})
  return params, history


def save_games(path: str, key: task_base.GameKey, transcript: dict) -> None:
  """A played batch, whole: its keys and transcript (what `rejudge` reads)."""
  io.save_npz(path, example_id=key.example_id, claims_2=key.claims_2, first=key.first,
           truth_seat=key.truth_seat, **{k: np.asarray(v) for k, v in transcript.items()})


def rejudge(task, judge_apply, params, games_path: str) -> dict:
  """The stored games of `games_path` judged again by `params`, without playing them again:
  each game's final view is rebuilt from its moves."""
  g = io.load_npz(games_path)
  key = task_base.GameKey(g["example_id"], g["claims_2"], g["first"], g["truth_seat"])
  final = judging.views_of(task.game, task.examples(key), g, every_move=False)
  logits = np.asarray(jax.jit(judge_apply)(params, *final["view"]), np.float32)
  claims = g["claims_Bx2"]
  rows = np.arange(len(claims))
  seat0 = logits[rows, claims[:, 0]] > logits[rows, claims[:, 1]]
  truth0 = judging.truth_in_seat0(g)
  return {"final_logits_BxC": logits, "seat0_wins_B": seat0, "honest_wins_B": seat0 == truth0,
          "claims_Bx2": claims}
