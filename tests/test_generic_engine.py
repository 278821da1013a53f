"""The engine takes any game: a game of our own (`tests/toy_game.py`) plays through rollout,
greedy, MCTS, self-play, the tournament with Elo, and the verdict table that the RL reward and
distillation read; no engine module names a specific game."""
import ast
import signal
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from ml_collections import ConfigDict

from debate import distill as distill_lib
from debate import protocols, rewards, rl, rollout, tournament
from debate.debaters import make_debater
from debate.debaters.base import Debater, one_hot_output
from debate.selfplay import loop
from debate.train import mesh as mesh_lib
from debate.train import trainer
from debate.train.batches import BatchSource
from debate.train.runtime import Runtime
from tests import toy_game as toy

PRECOMMIT = protocols.Protocol(precommit=True, first=0)
SCALE = jnp.float32(1.0)


def _play(task, names, first=0, sims=16, seed=0, ids=None):
  ids = np.arange(len(task)) if ids is None else ids
  key = protocols.lies_for(task, ids,
                           protocols.Protocol(precommit=True, first=first, lies="paper"))
  examples = task.examples(key)
  ds = [n if isinstance(n, Debater) else make_debater(n, task.game, PRECOMMIT, toy.judge_apply,
                                                       sims=sims) for n in names]
  player = rollout.make_player(None, game=task.game, protocol=PRECOMMIT, debaters=tuple(ds),
                               judge_apply=toy.judge_apply)
  return examples, jax.device_get(player(jax.random.PRNGKey(seed), SCALE, (None, None),
                                         jax.tree.map(jnp.asarray, examples)))


def _fixed(pick):
  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    return one_hot_output(pick(legal_BxA), legal_BxA.shape[-1])
  return Debater("fixed", apply, deterministic=True)


lowest = _fixed(lambda legal: jnp.argmax(legal, -1))
highest = _fixed(lambda legal: legal.shape[-1] - 1 - jnp.argmax(legal[:, ::-1], -1))


def test_rollout_follows_the_games_turns_and_ends():
  # Seat 0 moves twice in a row, then seat 1; the second game ends after 2 moves.
  bits = toy.random_bits(2, seed=0)
  task = toy.MajorityTask(bits, schedule_T=(0, 0, 1, 0, 1), length=[5, 2])
  examples, out = _play(task, [lowest, highest], ids=np.arange(2))
  assert out.seats_BxT.tolist() == [[0, 0, 1, 0, 1], [0, 0, -1, -1, -1]]
  assert out.moved_BxT.tolist() == [[True] * 5, [True, True, False, False, False]]
  # Seat 0 takes the lowest hidden bit, seat 1 the highest: each seat played its own moves.
  assert out.actions_BxT.tolist() == [[0, 1, 6, 2, 5], [0, 1, -1, -1, -1]]
  # After the end, the judge's logits stay those of the final position, and the verdict reads it.
  np.testing.assert_array_equal(out.judge_logits_BxTxC[1, 2:], out.judge_logits_BxTxC[1, 1:2]
                                .repeat(3, 0))
  view = np.where(np.isin(np.arange(7), [0, 1]), bits[1], -1)
  np.testing.assert_array_equal(out.judge_logits_BxTxC[1, -1], toy.judge_apply(1.0, view[None])[0])


def test_the_example_not_the_protocol_says_who_moves_first():
  # The protocol says seat 0 moves first; the examples say seat 1 does. Greedy must still argue
  # its own side: the honest side (seat 0, the truth) wins every game with a forced win.
  task = toy.MajorityTask(toy.random_bits(32, seed=1, margin=5))
  key = protocols.lies_for(task, np.arange(32),
                          protocols.Protocol(precommit=True, first=1, lies="paper"))
  greedy = make_debater("greedy", task.game, PRECOMMIT, toy.judge_apply)
  player = rollout.make_player(None, game=task.game, protocol=PRECOMMIT,
                               debaters=(greedy, greedy), judge_apply=toy.judge_apply)
  out = player(jax.random.PRNGKey(0), SCALE, (None, None), task.examples(key))
  assert (np.asarray(out.seats_BxT[:, 0]) == 1).all()
  assert np.asarray(out.honest_wins_B).all()


@pytest.mark.parametrize("name", ["greedy", "mcts"])
def test_the_honest_side_finds_the_forced_win(name):
  # A 5-2 split, honest moves first and last (3 moves): revealing a majority bit each turn wins;
  # random moves lose some games.
  task = toy.MajorityTask(toy.random_bits(24, seed=2, margin=3))
  _, out = _play(task, [name, "random"], sims=32)
  assert out.honest_wins_B.all()
  _, rand = _play(task, ["random", name], sims=32)
  assert rand.honest_wins_B.mean() < 0.9
  # Three moves made, then the game is over.
  assert (out.actions_BxT[:, :3] >= 0).all() and (out.actions_BxT[:, 3:] == -1).all()


def test_selfplay_trains_the_games_own_network_and_never_picks_illegal_moves(tmp_path):
  task = toy.MajorityTask(toy.random_bits(64, seed=3), length=[5, 4, 3, 5] * 16)
  settings = loop.Settings(iterations=2, games=32, sims=4, updates=4, batch_size=32,
                           learning_rate=3e-3, replay_capacity=512, evaluator="net",
                           population_every=2, play_batch=32, teacher_iterations=1)
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  out = loop.train(task=task, protocols=[PRECOMMIT, protocols.Protocol(True, 1)],
                   judge_apply=toy.judge_apply, judge_params=SCALE, network=toy.network(),
                   settings=settings, runtime=Runtime(mesh), workdir=str(tmp_path))
  buf = out["replay"]
  n = int(buf["size"])
  # One position per move made (games of 3, 4 and 5 moves): the games each iteration drew.
  drawn = [task.sample_keys(np.random.default_rng([0, it]), 32, True, it % 2).example_id
           for it in (1, 2)]
  assert n == sum(task.length[ids].sum() for ids in drawn) != 2 * 32 * 5
  ex = task.examples(jax.tree.map(lambda x: x[:n], buf["key"]))
  legal = np.asarray(jax.vmap(task.game.legal_mask)(ex, jax.tree.map(lambda x: x[:n],
                                                                      buf["state"])))
  assert legal.any(-1).all()
  assert (buf["policy"][:n][~legal] == 0).all()  # Targets put no mass on illegal moves.
  logits, _ = toy.network().guide(out["params"], ex, jax.tree.map(lambda x: x[:n], buf["state"]))
  assert np.isneginf(np.asarray(logits)[~legal]).all()
  assert len(loop.population(str(tmp_path))) == 1


def test_tournament_with_elo_on_the_toy_game(tmp_path):
  task = toy.MajorityTask(toy.random_bits(40, seed=4, margin=3))
  examples = task.examples(protocols.lies_for(task, np.arange(40), PRECOMMIT, toy.judge_apply,
                                              SCALE, jax.random.PRNGKey(0)))
  entrants = tournament.Entrants(lambda spec: make_debater(
      spec.split("-")[0], task.game, PRECOMMIT, toy.judge_apply, sims=int(spec.split("-")[1])
      if "-" in spec else 1))
  for spec in ("random", "greedy", "mcts-8"):
    entrants.add(spec, spec)
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  played = tournament.play(entrants, game=task.game, protocol=PRECOMMIT,
                           judge_apply=toy.judge_apply, judge_params=SCALE, examples=examples,
                           runtime=Runtime(mesh), batch_size=40, seed=0,
                           workdir=str(tmp_path))
  m = tournament.summarize(entrants.names, played, bootstrap=20, seed=0)
  assert m["elo"]["random"] == 0.0
  assert m["elo"]["greedy"] > 100 and m["elo"]["mcts-8"] > 100
  assert m["win_matrix"]["greedy vs random"] > m["win_matrix"]["random vs greedy"]
  # A rerun reads every pairing from matches.json and plays nothing.
  again = tournament.play(entrants, game=task.game, protocol=PRECOMMIT,
                          judge_apply=toy.judge_apply, judge_params=SCALE, examples=examples,
                          runtime=Runtime(mesh), batch_size=40, seed=0,
                          workdir=str(tmp_path))
  np.testing.assert_array_equal(again["seconds"], played["seconds"])


def test_verdict_table_feeds_the_rl_reward_and_distillation(tmp_path):
  task = toy.MajorityTask(toy.random_bits(96, seed=5, margin=5))
  ids = np.arange(96)
  settings = rewards.DebateSettings(debater="greedy", batch_size=96)
  t = rewards.verdict_table(task, toy.judge_apply, SCALE, ids, settings)
  table, truth = t["table_NxC"], task.truth(ids)
  assert table.shape == (96, 2) and t["games"] == 96
  # With a 6-1 split or more, the truth wins whoever moves first: the table is the truth.
  np.testing.assert_array_equal(table, np.eye(2, dtype=bool)[truth])
  # The RL reward reads the table: a policy that always answers c gets table[:, c].
  loss_fn = rl.make_rl_loss("debate", None, None, 0.0)
  for c in (0, 1):
    always = lambda bits, c=c: jnp.full((bits.shape[0], 2), -1e4).at[:, c].set(1e4)
    _, m = loss_fn(always, {"inputs": task.inputs(ids), "table": table},
                   jax.random.PRNGKey(0), None)
    assert float(m["reward"]) == pytest.approx(table[:, c].mean())
  # Distillation: a reward model on the task's inputs learns the verdicts.
  config = ConfigDict({"learning_rate": 0.05, "batch_size": 32, "seed": 0, "steps": 150,
                       "log_every": 50, "checkpoint_every": 1000,
                       "sharding": {"rules": [], "batch_axes": ("data",)}})
  mesh = mesh_lib.make_mesh({"data": 2, "model": 1}, jax.devices()[:2])
  meta = {"module": "tests.toy_game:Scorer", "kwargs": {}}
  model, _ = distill_lib.distill(config, str(tmp_path), Runtime(mesh), task.inputs(ids), table, meta)
  m = distill_lib.evaluate(model, task.inputs(ids), truth, table)
  assert m["agreement"] > 0.95, m


def test_rl_on_the_toy_task_learns_from_the_debate_reward(tmp_path):
  task = toy.MajorityTask(toy.random_bits(256, seed=6, margin=5))
  ids = np.arange(256)
  table = rewards.verdict_table(task, toy.judge_apply, SCALE, ids,
                                rewards.DebateSettings(debater="greedy", batch_size=256))
  data = {"inputs": task.inputs(ids), "table": table["table_NxC"]}
  test = toy.MajorityTask(toy.random_bits(200, seed=7, margin=3))
  acc = rl.policy_accuracy_fn(lambda r: toy.Scorer(rngs=r), test.inputs(np.arange(200)),
                              test.truth(np.arange(200)))
  tt = trainer.TrainTask(init_model=lambda r: toy.Scorer(rngs=r),
                         loss_fn=rl.make_rl_loss("debate", None, None, 0.0),
                         optimizer=optax.adam(0.05), data=BatchSource(data, 64, 0), eval_fn=acc,
                         name="rl_toy")
  res = trainer.train(tt, runtime=Runtime.local(data=2), steps=150, seed=0, workdir=str(tmp_path), log_every=50,
                      checkpoint_every=1000, eval_every=150)
  assert res.eval_history[-1]["accuracy"] > 0.85


# The engine names no game ---------------------------------------------------------------------

ROOT = pathlib.Path(__file__).resolve().parent.parent
GAME_PLACES = ("debate/games/", "debate/tasks/", "debate/data/", "judges/")


def _game_specific_modules() -> set[str]:
  """Modules of a specific game or task: everything under games/, tasks/, data/ except the
  interfaces, every judge, and the models only a game's files import."""
  out = set()
  for place in GAME_PLACES:
    for f in (ROOT / place).rglob("*.py"):
      if f.name not in ("__init__.py", "base.py"):
        out.add(".".join(f.relative_to(ROOT).with_suffix("").parts))
  return out


# Words of game and module names that are plain English or engine vocabulary, not a game's name.
GENERIC = {"text", "debate", "reading", "files", "uses", "plots", "base", "task", "game",
           "tokenizer", "network", "rules"}


def _game_names() -> set[str]:
  """The names games and tasks give themselves (`name = "..."` in their classes) and their
  modules' names, whole and split at underscores (mnist_pixels -> mnist, pixels), less the
  words any module may use (`GENERIC`)."""
  names = set()
  for mod in _game_specific_modules():
    if mod.startswith("judges."):
      continue
    found = [mod.split(".")[-1]]
    tree = ast.parse((ROOT / (mod.replace(".", "/") + ".py")).read_text())
    for node in ast.walk(tree):
      if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "name"
                                              for t in node.targets):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
          found.append(node.value.value)
    for n in found:
      names.update(w for w in [n.lower(), *n.lower().split("_")] if len(w) > 3)
  return names - GENERIC


def _engine_files():
  for f in sorted((ROOT / "debate").rglob("*.py")):
    rel = str(f.relative_to(ROOT))
    if not rel.startswith(GAME_PLACES):
      yield rel, f


def test_no_engine_module_imports_or_names_a_specific_game():
  specific, names = _game_specific_modules(), _game_names()
  assert {"debate.games.mnist_pixels", "debate.tasks.mnist"} <= specific
  assert {"mnist", "pixels", "mnist_pixels", "text_debate"} <= names
  problems = []
  for rel, f in _engine_files():
    tree = ast.parse(f.read_text())
    for node in ast.walk(tree):
      mods = []
      if isinstance(node, ast.Import):
        mods = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module:
        mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
      for m in mods:
        if m in specific or (m.startswith("models.") and not m.startswith("models.errors")):
          problems.append(f"{rel}:{node.lineno} imports {m}")
      words = []
      if isinstance(node, ast.Name):
        words = [node.id]
      elif isinstance(node, ast.Attribute):
        words = [node.attr]
      elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.arg)):
        words = [getattr(node, "name", None) or getattr(node, "arg", "")]
      elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        words = [node.value]
      for w in words:
        for name in names:
          if name in w.lower():
            problems.append(f"{rel}:{getattr(node, 'lineno', '?')} names {name!r} ({w[:60]!r})")
  assert not problems, "\n".join(problems)


def test_a_stop_request_ends_play_at_the_next_batch_of_games():
  """SIGTERM or Ctrl-C during play (no training step in sight) stops after the batch being
  played, with the line the runner turns into exit status 75."""
  from debate.train import preempt
  task = toy.MajorityTask(toy.random_bits(8, seed=8))
  key = protocols.lies_for(task, np.arange(8), protocols.Protocol(precommit=False))
  d = make_debater("random", task.game, PRECOMMIT, toy.judge_apply)
  player = rollout.make_player(None, game=task.game, protocol=PRECOMMIT, debaters=(d, d),
                               judge_apply=toy.judge_apply)
  examples = task.examples(key)
  whole = rollout.run_batched(player, jax.random.PRNGKey(0), SCALE, examples, batch_size=2)
  assert len(whole["honest_wins_B"]) == 8
  try:
    with preempt.Handlers():
      preempt._handle(signal.SIGTERM, None)  # what the signal handler does
      with pytest.raises(preempt.Preempted, match="stopped after 2 of 8 games"):
        rollout.run_batched(player, jax.random.PRNGKey(0), SCALE, examples, batch_size=2)
  finally:
    preempt.reset()
