"""A recursive game fits the engine unchanged (`tests/bisection_toy.py`: bisection debate over a
short computation): games of different depths end by `terminated`, whose turn it is comes from
`current_seat`, a recursion step is a move, the judge checks one step; rollout, the heuristic,
greedy and MCTS debaters, self-play and the tournament with Elo play it as they play any game."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import protocols, rollout, tournament
from debate.debaters import make_debater
from debate.selfplay import loop
from debate.train import mesh as mesh_lib
from debate.train.runtime import Runtime
from tests import bisection_toy as bt

PRECOMMIT = protocols.Protocol(precommit=True, first=0)
SCALE = jnp.float32(1.0)


def _games(task, first, ids=None):
  ids = np.arange(len(task)) if ids is None else np.asarray(ids)
  key = protocols.lies_for(task, ids, protocols.Protocol(precommit=True, first=first,
                                                         lies="paper"))
  return key, task.examples(key)


def _play(task, names, first, sims=32, seed=0):
  key, examples = _games(task, first)
  ds = [make_debater(n, task.game, PRECOMMIT, bt.judge_apply, sims=sims) for n in names]
  player = rollout.make_player(None, game=task.game, protocol=PRECOMMIT, debaters=tuple(ds),
                               judge_apply=bt.judge_apply)
  out = jax.device_get(player(jax.random.PRNGKey(seed), SCALE, (None, None),
                              jax.tree.map(jnp.asarray, examples)))
  return key, examples, out


def _final_states(task, examples, out):
  return jax.device_get(rollout.replay(task.game, jax.tree.map(jnp.asarray, examples),
                                       jnp.asarray(out.actions_BxT),
                                       jnp.asarray(out.moved_BxT)))


def test_the_corrupted_trace_is_wrong_at_exactly_one_step():
  for steps, claim, k in ((8, 3, 0), (8, 11, 5), (4, 0, 3)):
    tr = bt.corrupted_trace(7, steps, claim, k)
    wrong = [t for t in range(steps) if bt.step_np(tr[t]) != tr[t + 1]]
    truth = 7
    for _ in range(steps):
      truth = bt.step_np(truth)
    assert tr[steps] == claim and wrong == ([] if claim == truth else [k])


def test_bisection_finds_the_corrupted_step_whoever_defends():
  """Both seats play their own traces (the game's prior): against a lying defender the honest
  challenger narrows the dispute to the liar's one wrong step, which the judge rejects; an honest
  defender's every sub-claim is true, so the liar's challenge ends on a right step."""
  task = bt.BisectionTask(12, seed=0)
  for first in (0, 1):  # seat 0 holds the truth; `first` defends
    key, examples, out = _play(task, ["heuristic", "heuristic"], first)
    assert out.honest_wins_B.all()
    states = _final_states(task, examples, out)  # [B, T + 1]: after 0..T moves
    last = (np.arange(len(key.example_id)), out.moved_BxT.sum(1))
    lo, hi = np.asarray(states.lo)[last], np.asarray(states.hi)[last]
    assert (hi - lo == 1).all()  # the judge checked one step
    # Depth: log2(T) recursion steps of two moves, different per example.
    steps = task.steps[key.example_id]
    assert (out.moved_BxT.sum(1) == 2 * np.log2(steps).astype(int)).all()
    assert set(steps) == {4, 8}
    if first == 1:  # the liar (seat 1) defends: the dispute ends at its corrupted step
      liar_claims = key.claims_2[:, 1]
      want = task.corrupt_step(key.example_id, liar_claims)
      np.testing.assert_array_equal(lo, want)
    # Moves alternate defender, challenger: the game's current_seat, not a fixed schedule.
    seats = out.seats_BxT[0][out.moved_BxT[0]]
    assert list(seats) == [first, 1 - first] * (len(seats) // 2)


def test_random_challengers_miss_the_lie_and_search_finds_it():
  """An honest challenger that picks halves at random lets a lying defender escape often (T = 4:
  23% honest wins on 24 claims, measured); MCTS on the honest side (64 simulations, leaves judged after random
  completions) finds the forced win in every game. (At T = 8 random completions no longer
  tell the halves apart: 49% with 256 simulations, measured; the recursive-debate issue's
  learned and exact debaters are for that.)"""
  task = bt.BisectionTask(12, seed=1, steps=(4,))
  *_, rand = _play(task, ["random", "heuristic"], first=1)
  assert rand.honest_wins_B.mean() < 0.5
  *_, mcts = _play(task, ["mcts", "heuristic"], first=1, sims=64)
  assert mcts.honest_wins_B.all()


@pytest.mark.slow  # self-play on a game of our own runs in the default suite (test_generic_engine)
def test_selfplay_on_the_recursive_game_never_picks_illegal_moves(tmp_path):
  task = bt.BisectionTask(64, seed=2)
  settings = loop.Settings(iterations=2, games=16, sims=2, updates=2, batch_size=16,
                           learning_rate=3e-3, replay_capacity=256, evaluator="net",
                           population_every=2, play_batch=16)
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  out = loop.train(task=task, protocols=[protocols.Protocol(True, 1)],  # the liar defends
                   judge_apply=bt.judge_apply, judge_params=SCALE, network=bt.network(),
                   settings=settings, runtime=Runtime(mesh), workdir=str(tmp_path))
  buf = out["replay"]
  n = int(buf["size"])
  assert n > 0
  ex = task.examples(jax.tree.map(lambda x: x[:n], buf["key"]))
  states = jax.tree.map(lambda x: x[:n], buf["state"])
  legal = np.asarray(jax.vmap(task.game.legal_mask)(ex, states))
  assert legal.any(-1).all()
  # The challenger's positions allow only its two halves; no target puts mass elsewhere.
  challenger = np.asarray(states.phase) == 1
  assert challenger.any() and (legal[challenger][:, 2:] == 0).all()
  assert (buf["policy"][:n][~legal] == 0).all()
  logits, _ = bt.network().guide(out["params"], ex, states)
  assert np.isneginf(np.asarray(logits)[~legal]).all()


def test_tournament_and_elo_on_the_recursive_game(tmp_path):
  task = bt.BisectionTask(32, seed=3, steps=(8,))
  _, examples = _games(task, first=1, ids=np.arange(32))
  examples = jax.tree.map(lambda x: x[::5], examples)  # a few lies per example
  entrants = tournament.Entrants(lambda spec: make_debater(spec, task.game, PRECOMMIT,
                                                           bt.judge_apply, sims=1))
  for spec in ("random", "heuristic"):
    entrants.add(spec, spec)
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  played = tournament.play(entrants, game=task.game, protocol=PRECOMMIT,
                           judge_apply=bt.judge_apply, judge_params=SCALE, examples=examples,
                           runtime=Runtime(mesh), batch_size=len(examples.x0),
                           seed=0, workdir=str(tmp_path))
  m = tournament.summarize(entrants.names, played, bootstrap=20, seed=0)
  assert m["elo"]["random"] == 0.0 and m["elo"]["heuristic"] > 100
  assert m["win_matrix"]["heuristic vs random"] == 1.0
