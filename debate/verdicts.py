"""Verdict tables for the uses of debate: settings from a config, the judge, cached tables."""
from __future__ import annotations

import io as _io
import json
import logging
import os
import time

import numpy as np

from debate import io, rewards
from debate.config import ConfigError, check, check_choice, check_int
from debate.data import mnist
from debate.debaters import DEBATERS
from judges import training as judge_training


def validate_debate_keys(config) -> None:
  check_int(config, "pixels", 1, 20)
  check_int(config, "sims", 1)
  check_choice(config, "debater", DEBATERS)
  check_int(config, "debate_batch_size", 1)
  judge_training.check_judge_source(config, config.pixels)
  check_image_counts(config)


# Config keys that count images of a split, and the key of their offset into it (checked
# before anything is written).
_COUNTS = {"train_images": ("train", None), "eval_images": ("test", None),
           "rl.images": ("train", "rl.image_offset"), "weak.train_images": ("train", None)}


def check_image_counts(config) -> None:
  sizes = {}
  for key, (split, offset_key) in _COUNTS.items():
    node = config
    for part in key.split("."):
      node = node.get(part) if node is not None and hasattr(node, "get") else None
    if node is None:
      continue
    offset = 0
    if offset_key:
      parent, leaf = offset_key.split(".")
      offset = config[parent].get(leaf, 0)
    if split not in sizes:
      sizes[split] = len(mnist.load_from_config(config, split)["label"])
    n = sizes[split]
    check(isinstance(node, int) and 1 <= node and offset + node <= n, key, node,
          f"1..{n - offset} ({split} split of {n} images"
          + (f", from {offset_key}={offset})" if offset else ")"))


def settings(config) -> rewards.DebateSettings:
  return rewards.DebateSettings(k=config.pixels, debater=config.debater, sims=config.sims,
                                batch_size=config.debate_batch_size)


def judge(config, workdir, mesh):
  apply, params, arch, source = judge_training.get_judge(config, workdir, mesh, config.pixels)
  return apply, params


def cached_table(path: str, compute, key: dict) -> dict:
  """Loads a verdict table from `path` (npz) or computes and saves it atomically.

  `key` (the debate settings, images and judge) must match the saved one."""
  if os.path.exists(path):
    with np.load(path) as f:
      out = {k: f[k] for k in f.files}
    saved = json.loads(str(out.get("key", "{}")))
    if saved != key:
      raise ConfigError(f"verdict table {path} was made with {saved}, not {key}; allowed: "
                        "tables_from a run with the same pixels, debater, sims, seed and judge")
    return out
  t0 = time.time()
  out = compute()
  out = {k: np.asarray(v) for k, v in out.items()}
  out["key"] = np.asarray(json.dumps(key, sort_keys=True))
  out["seconds"] = np.asarray(time.time() - t0)
  buf = _io.BytesIO()
  np.savez(buf, **out)
  io.atomic_write_bytes(path, buf.getvalue())
  logging.info("verdict table %s: %d games in %.0f s", path, int(out["games"]), out["seconds"])
  return out


def split_images(config, split: str, count: int, offset: int = 0):
  data = mnist.load_from_config(config, split)
  n = len(data["label"])
  check(offset + count <= n, f"{split}_images", count,
        f"at most {n - offset} images of the {split} split")
  sl = slice(offset, offset + count)
  return data["image"][sl], data["label"][sl]


def table_for(config, workdir, mesh, apply, params, split: str, count: int, name: str,
              offset: int = 0):
  """The verdict table of `count` images of `split` from `offset`: read from `tables_from` when
  that run made it with the same settings, otherwise computed (and cached) in `workdir`."""
  images_u8, labels = split_images(config, split, count, offset)
  key = {"pixels": config.pixels, "debater": config.debater, "sims": config.sims,
         "seed": config.seed, "split": split, "images": count,
         "judge": config.judge_workdir or config.judge.arch}
  if offset:
    key["offset"] = offset
  path = os.path.join(workdir, f"verdicts_{name}.npz")
  if config.get("tables_from"):
    shared = os.path.join(config.tables_from, f"verdicts_{name}.npz")
    path = shared if os.path.exists(shared) else path
  table = cached_table(path, lambda: rewards.verdict_table(
      apply, params, mnist.to_float(images_u8), labels, settings(config), mesh,
      seed=config.seed), key)
  return images_u8, labels, table
