"""Pieces shared by the experiment configs."""
from __future__ import annotations

import ml_collections
from ml_collections import config_dict

from debate.data.mnist import SHIPPED as SHIPPED_MNIST  # data/mnist (data/mnist/README.md)


def data_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({
      # "idx": a directory of MNIST IDX files (`dir`, default the repository's offline copy);
      # "tfds": the full TFDS 'mnist' (60,000 + 10,000 images; internet the first time).
      "source": "idx",
      "dir": SHIPPED_MNIST,
      "tfds_download": True,
      "tfds_data_dir": config_dict.placeholder(str),
  })


def mesh_config(data: int = -1, model: int = 1) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({"data": data, "model": model})


def sharding_config() -> ml_collections.ConfigDict:
  # (regex on the leaf path, mesh axes of the trailing dims). Kernels and biases are split over
  # 'model' along their output dimension; the optimizer's moments follow the same rules because
  # their paths end the same way. Everything else is replicated; batches split over 'data'.
  return ml_collections.ConfigDict({
      "rules": [(r"kernel$", ("model",)), (r"bias$", ("model",))],
      "batch_axes": ("data",),
  })


def judge_config() -> ml_collections.ConfigDict:
  """How a judge is trained when no `judge_workdir` is given (the paper's, 4,000 batches)."""
  return ml_collections.ConfigDict({"arch": "paper", "steps": 4000, "batch_size": 128,
                                    "learning_rate": 1e-4, "holdout": 200})


def add_run_keys(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The keys every run has: data, mesh, sharding rules, multi-host."""
  c.data = data_config()
  c.mesh = mesh_config()
  c.sharding = sharding_config()
  c.distributed = False
  return c
