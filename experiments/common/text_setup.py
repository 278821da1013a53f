"""A text-debate run's pieces rebuilt from its config: the question rows, the tokenizer saved in
its workdir, one task per protocol, the judge (`judges.text_judge.TextJudge`) and the learned
debaters' network of the config's sizes. The text-debate and re-judging experiments compose
these."""
from __future__ import annotations

import os


from debate import io
from debate.config import ConfigError, check
from debate.data import reading, text_files
from debate.data import tokenizer as tok_lib
from debate.games import text as text_game
from debate.games import text_network
from debate.tasks.reading import ReadingTask, Sizes
from judges.text_judge import TextJudge
from models.transformer import TransformerConfig


def reading_config(config) -> reading.ReadingConfig:
  d = config.data
  return reading.ReadingConfig(sentences=d.sentences, distractors=d.distractors, hops=d.hops,
                               overrides=d.overrides, tricky=d.tricky)


def load_rows(config) -> tuple[list[dict], list[dict]]:
  """(train rows, test rows) of `config.data`: generated, or read from the user's file."""
  d = config.data
  if d.source == "synthetic":  # test questions: people, things and wordings never trained on
    cfg = reading_config(config)  # (test_split=train: new questions, the training ones' words)
    test = (reading.generate(d.test, d.seed, cfg, "test") if d.test_split == "test" else
            reading.generate(d.test, d.seed, cfg, "train", start=d.train))
    return reading.generate(d.train, d.seed, cfg, "train"), test
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
  if config.data.source == "synthetic":  # the generator's names and things, not its questions
    texts += list(reading.LEXICON) * 20
  return tok_lib.load_or_train(os.path.join(workdir, "tokenizer.json"), texts,
                               config.sizes.vocab)


def tasks(config, rows: list[dict], tok) -> dict[str, ReadingTask]:
  """One task per protocol of `config.protocols`, sharing one tokenization of `rows`."""
  sizes = Sizes(**{k: v for k, v in config.sizes.items() if k != "vocab"})
  proto = lambda kind: text_game.TextFormat(kind, config.rounds, config.simultaneous,
                                              config.forgeries)
  base = ReadingTask(rows, tok, sizes, proto(config.protocols[0]))
  return {p: base.with_protocol(proto(p)) for p in config.protocols}


def judge(config, tok) -> TextJudge:
  """The text judge `config.judge` sizes (`judges.text_judge.TextJudge`, untrained)."""
  j = config.judge
  cfg = TransformerConfig(vocab=tok.vocab_size, width=j.width, layers=j.layers, heads=j.heads,
                          kv_heads=j.kv_heads, head_width=j.head_width, mlp_width=j.mlp_width)
  return TextJudge.create(cfg, tok.special)


def debater_network(config, tok):
  """`network_for(game)` and the TransformerConfig of the learned text debaters
  (`debate.games.text_network`, sizes of `config.learned`)."""
  d = config.learned
  cfg = TransformerConfig(vocab=tok.vocab_size, width=d.width, layers=d.layers, heads=d.heads,
                          kv_heads=d.kv_heads, head_width=d.head_width, mlp_width=d.mlp_width)
  return text_network.network_for(cfg, tok.special), cfg


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


