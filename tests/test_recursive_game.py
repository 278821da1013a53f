"""The recursive game (`debate/games/recursive/bisection.py`) takes the engine unchanged: games of
every depth end by `terminated`, whose turn it is comes from `current_seat`, a recursion step is
a move; self-play trains on it without illegal moves, and the tournament rates its debaters."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import protocols, tournament
from debate.debaters import make_debater
from debate.games.recursive import bisection as bis
from debate.selfplay import loop
from debate.tasks import base as task_base
from debate.tasks.computation import BisectionTask
from debate.train import mesh as mesh_lib
from debate.train.runtime import Runtime

PRECOMMIT = protocols.Protocol(precommit=True, first=0)
SCALE = jnp.float32(1.0)


@pytest.mark.slow  # self-play on a game of our own runs in the default suite (test_generic_engine)
def test_selfplay_on_the_recursive_game_never_picks_illegal_moves(tmp_path):
  task = BisectionTask(64, 3, seed=2)
  settings = loop.Settings(iterations=2, games=16, sims=2, updates=2, batch_size=16,
                           learning_rate=3e-3, replay_capacity=256, evaluator="net",
                           population_every=2, play_batch=16)
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  net = bis.network(hidden=16)
  out = loop.train(task=task, protocols=[protocols.Protocol(True, 1)],
                   judge_apply=bis.judge_apply, judge_params=SCALE, network=net,
                   settings=settings, runtime=Runtime(mesh), workdir=str(tmp_path))
  buf = out["replay"]
  n = int(buf["size"])
  assert n > 0
  ex = task.examples(jax.tree.map(lambda x: x[:n], buf["key"]))
  states = jax.tree.map(lambda x: x[:n], buf["state"])
  legal = np.asarray(jax.vmap(task.game.legal_mask)(ex, states))
  assert legal.any(-1).all()                    # no finished game was stored as a position
  assert (np.asarray(states.hi) - np.asarray(states.lo) > 1).all()
  assert (buf["policy"][:n][~legal] == 0).all()
  logits, _ = net.guide(out["params"], ex, states)
  assert np.isneginf(np.asarray(logits)[~legal]).all()


def test_tournament_and_elo_on_the_recursive_game(tmp_path):
  task = BisectionTask(32, 3, seed=3)
  ids = np.arange(32)
  key = task_base.keys(ids, task.truth(ids), task.lies(ids, np.random.default_rng(0)), 1)
  examples = task.examples(key)
  entrants = tournament.Entrants(lambda spec: make_debater(spec, task.game, PRECOMMIT,
                                                           bis.judge_apply, sims=1))
  for spec in ("random", "heuristic"):
    entrants.add(spec, spec)
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  played = tournament.play(entrants, game=task.game, protocol=PRECOMMIT,
                           judge_apply=bis.judge_apply, judge_params=SCALE, examples=examples,
                           runtime=Runtime(mesh), batch_size=32, seed=0, workdir=str(tmp_path))
  m = tournament.summarize(entrants.names, played, bootstrap=20, seed=0)
  # The side that computes wins every game as honest and as liar against the one that does not.
  assert m["win_matrix"]["heuristic vs random"] == 1.0
  assert m["elo"]["random"] == 0.0 and m["elo"]["heuristic"] > 100
