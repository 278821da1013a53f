"""Pieces shared by the experiment configs."""
from __future__ import annotations

import ml_collections
from ml_collections import config_dict


def data_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({
      # A directory of MNIST IDX files (e.g. ../shared/data/mnist); None loads TFDS 'mnist'.
      "dir": config_dict.placeholder(str),
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
