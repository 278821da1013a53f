"""MNIST from TFDS (users with internet) or from a directory of standard IDX files (offline).

Both give the same arrays: `image` uint8 [N, 28, 28] and `label` int32 [N]. Training batches come
from `BatchSource`, a deterministic seeded shuffle (grain's `MapDataset`) addressed by step, so the
data-iterator state is a single integer that a checkpoint stores and a resume restores exactly.
"""
from __future__ import annotations

import gzip
import os
import struct

import grain
import numpy as np

from debate.config import ConfigError
from debate.train import mesh as mesh_lib

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str) -> np.ndarray:
  """Reads one IDX file (optionally gzipped): magic, dims, then big-endian data."""
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    data = f.read()
  if len(data) < 4 or data[0] != 0 or data[1] != 0:
    raise ValueError(f"{path} is not an IDX file (bad magic {data[:4]!r})")
  dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[data[2]]
  ndim = data[3]
  dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
  arr = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim)
  if arr.size != int(np.prod(dims)):
    raise ValueError(f"{path}: header says {dims} but holds {arr.size} values")
  return arr.reshape(dims)


def _find(data_dir: str, stem: str) -> str:
  for name in (stem + ".gz", stem):
    path = os.path.join(data_dir, name)
    if os.path.exists(path):
      return path
  raise ConfigError(f"data.dir={data_dir!r} has no {stem}[.gz]; allowed: a directory with the "
                    f"standard MNIST IDX files {sorted(sum(_IDX_FILES.values(), ()))}")


def write_idx(path: str, arr: np.ndarray) -> None:
  """Writes uint8 arrays as (gzipped if path ends in .gz) IDX; used to make test data."""
  arr = np.ascontiguousarray(arr, dtype=np.uint8)
  header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "wb") as f:
    f.write(header + arr.tobytes())


def load_mnist(split: str, data_dir: str | None = None, tfds_download: bool = True,
               tfds_data_dir: str | None = None) -> dict[str, np.ndarray]:
  """`split` is "train" or "test". With `data_dir`, reads IDX files; otherwise TFDS `mnist`."""
  if split not in _IDX_FILES:
    raise ConfigError(f"split={split!r}; allowed: {sorted(_IDX_FILES)}")
  if data_dir is not None:
    if not os.path.isdir(data_dir):
      raise ConfigError(f"data.dir={data_dir!r} does not exist; allowed: a directory of MNIST "
                        "IDX files, or None to load TFDS 'mnist'")
    img_stem, lbl_stem = _IDX_FILES[split]
    images = read_idx(_find(data_dir, img_stem))
    labels = read_idx(_find(data_dir, lbl_stem)).astype(np.int32)
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
      raise ValueError(f"{data_dir}: bad MNIST shapes {images.shape} / {labels.shape}")
    return {"image": np.asarray(images, np.uint8), "label": labels}
  import tensorflow_datasets as tfds  # Heavy import, only when TFDS is actually used.
  ds = tfds.load("mnist", split=split, batch_size=-1, download=tfds_download,
                 data_dir=tfds_data_dir)
  ds = tfds.as_numpy(ds)
  return {"image": ds["image"][..., 0].astype(np.uint8), "label": ds["label"].astype(np.int32)}


def load_from_config(config, split: str) -> dict[str, np.ndarray]:
  return load_mnist(split, config.data.get("dir"), bool(config.data.get("tfds_download", True)),
                    config.data.get("tfds_data_dir"))


def to_float(image_u8: np.ndarray) -> np.ndarray:
  return np.asarray(image_u8, np.float32) / 255.0


class BatchSource:
  """Deterministic shuffled batches addressed by step; each process reads only its rows.

  `batch(step)` returns this process's share of global batch `step` as numpy arrays. The iterator
  state is the step itself (the trainer checkpoints it as `data_step`): resuming from it yields
  exactly the batches an uninterrupted run sees.
  """

  def __init__(self, arrays: dict[str, np.ndarray], global_batch: int, seed: int):
    n = len(next(iter(arrays.values())))
    if n < global_batch:
      raise ConfigError(f"batch_size={global_batch} is larger than the {n} training examples")
    self.arrays = arrays
    self.global_batch = global_batch
    self._rows = mesh_lib.process_slice(global_batch)
    self._index = (grain.MapDataset.range(n).seed(seed).shuffle().repeat()
                   .batch(global_batch, drop_remainder=True))

  def batch(self, step: int) -> dict[str, np.ndarray]:
    idx = np.asarray(self._index[step])[self._rows]
    return {k: v[idx] for k, v in self.arrays.items()}
