"""The MNIST task for the uses of debate (RL reward, runtime check, distillation): the config keys
they share, the images of a split as a task, the judge, the judge alone as a reward, and the
verdict tables (`debate.verdicts`) keyed by what made them."""
from __future__ import annotations

import numpy as np

from debate import rewards, verdicts
from debate.config import check, check_choice, check_int
from debate.data import mnist
from debate.debaters import DEBATERS
from debate.tasks.mnist import MnistTask
from judges import mnist_training as judge_training

# The reward model, policy and classifiers of the MNIST uses (`debate.rewards.ScoredRewardModel`
# reads `module`).
REWARD_MODEL = "models.mnist_cnn:RewardModel"


def validate_debate_keys(config) -> None:
  check_int(config, "pixels", 1, 20)
  check_int(config, "sims", 1)
  check_choice(config, "debater", DEBATERS)
  check_int(config, "debate_batch_size", 1)
  judge_training.check_judge_source(config, config.pixels)
  check_image_counts(config)
  shared = config.get("tables_from")
  if shared:
    import glob
    import os
    check(os.path.isdir(shared) and bool(glob.glob(os.path.join(shared, "verdicts_*.npz"))),
          "tables_from", shared, "the workdir of a distill_reward (or other use-of-debate) run "
          "that holds verdict tables (verdicts_*.npz), or unset")


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
  return rewards.DebateSettings(debater=config.debater, sims=config.sims,
                                batch_size=config.debate_batch_size)


def judge(config, workdir, rt):
  """The run's k-pixel judge (`judges.mnist_judge.MnistJudge`)."""
  return judge_training.get_judge(config, workdir, rt, config.pixels)


def split_task(config, split: str, count: int, offset: int = 0):
  """(task, images_u8, labels): `count` images of `split` from `offset`, as a k-pixel task
  (its example ids are 0..count-1)."""
  data = mnist.load_from_config(config, split)
  n = len(data["label"])
  check(offset + count <= n, f"{split}_images", count,
        f"at most {n - offset} images of the {split} split")
  sl = slice(offset, offset + count)
  images_u8, labels = data["image"][sl], data["label"][sl]
  return MnistTask(mnist.to_float(images_u8), labels, config.pixels), images_u8, labels


def table_for(config, workdir, rt, apply, params, split: str, count: int, name: str,
              offset: int = 0):
  """(task, images_u8, labels, verdict table) of `count` images of `split` from `offset`."""
  task, images_u8, labels = split_task(config, split, count, offset)
  # The judge by its parameters, not its path: a judge replaced at the same path never reuses
  # the old one's verdicts.
  key = {"pixels": config.pixels, "split": split, "images": count,
         "judge": config.judge_workdir or config.judge.arch,
         "judge_fingerprint": judge_training.fingerprint(params)}
  if offset:
    key["offset"] = offset
  table = verdicts.table_for(task, np.arange(count), apply, params, settings(config), runtime=rt,
                             seed=config.seed, workdir=workdir, name=name, key=key,
                             tables_from=config.get("tables_from"))
  if "table_Nx10" in table:  # Tables cached before the engine took any task.
    table["table_NxC"] = table.pop("table_Nx10")
  return task, images_u8, labels, table


def judge_alone(judge_apply, k: int):
  """`(params, inputs, rng) -> logits_BxC`: the judge shown k random nonzero pixels of each
  image, no debate (the RL reward's and the runtime check's baseline)."""
  import jax.numpy as jnp
  from debate.games.mnist_pixels import sample_masks

  def fn(params, inputs, rng):
    image = inputs["image"].astype(jnp.float32) / 255.0
    return judge_apply(params, sample_masks(rng, image, k), image)

  return fn


def reward_model_meta(config) -> dict:
  """What identifies a distilled MNIST reward model (`rewards.ScoredRewardModel` reads it)."""
  return {"module": REWARD_MODEL, "kwargs": {"width": config.width, "dense": config.dense},
          "pixels": config.pixels, "debater": config.debater, "sims": config.sims,
          "train_images": config.train_images, "steps": config.steps, "seed": config.seed,
          "learning_rate": config.learning_rate}


def distill(config, workdir, rt):
  """The judge, the distilled reward model and its train result, and (task, images_u8, labels,
  table) of the train and held-out splits; shared by the distillation and RL experiments."""
  from debate import distill as distill_lib
  j = judge(config, workdir, rt)
  apply, params = j.apply, j.params
  train = table_for(config, workdir, rt, apply, params, "train", config.train_images, "train")
  held = table_for(config, workdir, rt, apply, params, "test", config.eval_images, "test")
  model, result = distill_lib.distill(config, workdir, rt, {"image": train[1]},
                                      train[3]["table_NxC"], reward_model_meta(config))
  return apply, params, model, result, train, held
