"""A text-debate run's pieces rebuilt from its config: the question rows, the tokenizer saved in
its workdir, one task per protocol, and the judge (a transformer over the judge's view) with its
saved parameters. The text-debate and re-judging experiments compose these."""
from __future__ import annotations

import os

import jax
import numpy as np

from debate import io, judging
from debate.config import ConfigError, check
from debate.data import reading, text_files
from debate.data import tokenizer as tok_lib
from debate.games import text as text_game
from debate.tasks.reading import ReadingTask, Sizes
from debate.train import trainer
from models.transformer import ChoiceHead, MoveScorer, TransformerConfig

JUDGE_DIR = "judge"  # Where a run keeps its final judge (params and judge.json).


def reading_config(config) -> reading.ReadingConfig:
  d = config.data
  return reading.ReadingConfig(sentences=d.sentences, distractors=d.distractors, hops=d.hops,
                               overrides=d.overrides, tricky=d.get("tricky"))


def load_rows(config) -> tuple[list[dict], list[dict]]:
  """(train rows, test rows) of `config.data`: generated, or read from the user's file."""
  d = config.data
  if d.source == "synthetic":
    rows = reading.generate(d.train + d.test, d.seed, reading_config(config))
    return rows[:d.train], rows[d.train:]
  rows = (text_files.load_quality(d.path, seed=config.seed) if d.source == "quality" else
          text_files.load_jsonl(d.path, dict(d.fields), d.label_base, seed=config.seed))
  n_test = max(1, int(round(len(rows) * d.test_fraction)))
  check(len(rows) - n_test >= 1, "data.path", d.path, "a file with at least two questions")
  return rows[:-n_test], rows[-n_test:]


def tokenizer(config, workdir: str, train_rows: list[dict]):
  """The workdir's tokenizer, or one trained on the training rows' text and saved there."""
  texts = [r["passage"] for r in train_rows] + [r["question"] for r in train_rows] + \
      [o for r in train_rows for o in r["options"]] + \
      [f for r in train_rows for f in r.get("forgeries", [])]
  return tok_lib.load_or_train(os.path.join(workdir, "tokenizer.json"), texts,
                               config.sizes.vocab)


def tasks(config, rows: list[dict], tok) -> dict[str, ReadingTask]:
  """One task per protocol of `config.protocols`, sharing one tokenization of `rows`."""
  sizes = Sizes(**{k: v for k, v in config.sizes.items() if k != "vocab"})
  proto = lambda kind: text_game.TextProtocol(kind, config.rounds, config.simultaneous,
                                              config.forgeries)
  base = ReadingTask(rows, tok, sizes, proto(config.protocols[0]))
  return {p: base.with_protocol(proto(p)) for p in config.protocols}


def transcript_rows(name: str, task, key, out) -> list[dict]:
  """Each game of `out` as a readable JSON row (`TextGame.render`), with its protocol and
  question index."""
  ex = task.examples(key)
  return [{"protocol": name, "example": int(key.example_id[i]),
           **task.game.render(ex, out, i, task.text(int(key.example_id[i])))}
          for i in range(len(key.example_id))]


def judge_model(config, tok):
  """(init, apply, TransformerConfig) of the judge `config.judge` describes."""
  j = config.judge
  cfg = TransformerConfig(vocab=tok.vocab_size, width=j.width, layers=j.layers, heads=j.heads,
                          kv_heads=j.kv_heads, head_width=j.head_width, mlp_width=j.mlp_width)
  choices = (tok.special["[A]"], tok.special["[B]"])
  init = lambda rngs: ChoiceHead(cfg, choices, rngs=rngs)
  functional = trainer.functionalize(init)
  return init, (lambda params, tokens_BxN: functional.module(params)(tokens_BxN)), cfg


def debater_network(config, tok):
  """`network_for(game) -> learner.Network`: a transformer debater (sizes of `config.learned`)
  that reads `game.debater_view` and scores every move; one set of parameters plays any protocol
  of the task (each game gets its own view builder)."""
  import jax.numpy as jnp
  from debate.selfplay import learner
  d = config.learned
  cfg = TransformerConfig(vocab=tok.vocab_size, width=d.width, layers=d.layers, heads=d.heads,
                          kv_heads=d.kv_heads, head_width=d.head_width, mlp_width=d.mlp_width)
  init = lambda rngs: MoveScorer(cfg, (tok.special["[A]"], tok.special["[B]"]), rngs=rngs)

  def network_for(game) -> learner.Network:
    def evaluate(net, obs):
      tokens_BxN, marks_BxA = jax.vmap(game.debater_view)(obs.example, obs.state, obs.seat)
      legal_BxA = jax.vmap(game.legal_mask)(obs.example, obs.state)
      logits_BxA, value_B = net(tokens_BxN, marks_BxA)
      return jnp.where(legal_BxA, logits_BxA, -jnp.inf), value_B
    return learner.make_network(init, evaluate, game.current_seat)

  return network_for, cfg


def save_judge(workdir: str, params) -> None:
  """The final judge's parameters, flat in one npz (written whole or not at all)."""
  from debate.cotrain import save_npz
  leaves, _ = jax.tree_util.tree_flatten_with_path(jax.device_get(params))
  save_npz(os.path.join(workdir, JUDGE_DIR, "params.npz"),
           **{jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves})


def load_judge(config, workdir: str, tok):
  """(apply, params, TransformerConfig) of the judge a finished text-debate run saved."""
  path = os.path.join(workdir, JUDGE_DIR, "params.npz")
  if not os.path.exists(path):
    raise ConfigError(f"judge_workdir={workdir!r} holds no final judge ({path} is missing); "
                      "allowed: the workdir of a finished text-debate run")
  init, apply, cfg = judge_model(config, tok)
  like = trainer.init_params(init, jax.random.PRNGKey(0))
  leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
  with np.load(path) as f:
    params = [f[jax.tree_util.keystr(p)] for p, _ in leaves]
  return apply, jax.tree_util.tree_unflatten(treedef, params), cfg


def run_config(workdir: str, name: str):
  """The config a finished text-debate run in `workdir` was made with."""
  import ml_collections
  path = os.path.join(workdir or "", "config.json")
  if not workdir or not os.path.exists(path):
    raise ConfigError(f"{name}={workdir!r} holds no run (no config.json); allowed: the workdir "
                      "of a finished text-debate run")
  cfg = ml_collections.ConfigDict(io.read_json(path))
  if cfg.get("experiment") != "text_debate":
    raise ConfigError(f"{name}={workdir!r} is a {cfg.get('experiment')!r} run; allowed: a "
                      "text_debate run")
  return cfg


def quote_stats(task, out: dict) -> dict:
  """Verified share of quotes (by honest and liar), and in the open protocols how often the
  side-picker chose the true option."""
  s, f = task.game.sentences, task.game.fakes
  actions, seats, moved = (np.asarray(out[k]) for k in ("actions_BxT", "seats_BxT", "moved_BxT"))
  quote = moved & (actions >= 0) & (actions < s + f)
  honest_seat = np.where(judging.truth_in_seat0(out), 0, 1)[:, None]
  stats = {}
  for who, sel in (("all", quote), ("honest", quote & (seats == honest_seat)),
                   ("liar", quote & (seats != honest_seat))):
    stats[f"verified_share_{who}"] = float((actions[sel] < s).mean()) if sel.any() else None
  return stats
