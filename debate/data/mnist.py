"""MNIST from TFDS (users with internet) or from a directory of standard IDX files (offline).

Both give the same arrays: `image` uint8 [N, 28, 28] and `label` int32 [N]. Training batches come
from `debate.train.batches.BatchSource`.
"""
from __future__ import annotations

import gzip
import logging
import os
import socket
import struct
import zlib

import numpy as np

from debate.config import ConfigError
from debate.train.batches import BatchSource  # noqa: F401 (training batches of these arrays)

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str) -> np.ndarray:
  """Reads one IDX file (optionally gzipped): magic, dims, then big-endian data. A damaged file
  raises ConfigError naming the path and what is wrong."""
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      data = f.read()
  except (OSError, EOFError, zlib.error) as e:
    raise ConfigError(f"{path} cannot be read ({type(e).__name__}: {e}); allowed: a complete "
                      "(optionally gzipped) IDX file, e.g. a fresh copy of the MNIST download")
  dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in dtypes:
    raise ConfigError(f"{path} is not an IDX file (header {data[:4]!r}); allowed: a standard "
                      "MNIST IDX file (magic 0x0000 0801 or 0803)")
  ndim = data[3]
  if len(data) < 4 + 4 * ndim:
    raise ConfigError(f"{path} is truncated inside its header; allowed: a complete IDX file")
  dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
  dtype = np.dtype(dtypes[data[2]])
  expected = int(np.prod(dims)) * dtype.itemsize
  body = len(data) - 4 - 4 * ndim
  if body != expected:
    raise ConfigError(f"{path}: its header says {dims} ({expected} bytes) but it holds {body} "
                      "bytes (truncated or damaged); allowed: a complete IDX file")
  return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(dims)


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


# The 10,000 real MNIST images shipped with the repository (data/mnist/README.md).
SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "data", "mnist")


def load_mnist(split: str, data_dir: str | None = None, tfds_download: bool = True,
               tfds_data_dir: str | None = None) -> dict[str, np.ndarray]:
  """`split` is "train" or "test". With `data_dir`, reads IDX files; otherwise TFDS `mnist`."""
  if split not in _IDX_FILES:
    raise ConfigError(f"split={split!r}; allowed: {sorted(_IDX_FILES)}")
  if data_dir is not None:
    if not os.path.isdir(data_dir):
      raise ConfigError(f"config.data.dir={data_dir!r} is not allowed: it does not exist; "
                        "allowed: a directory of MNIST IDX files (default: the repository's "
                        "data/mnist), or data.source=tfds")
    img_stem, lbl_stem = _IDX_FILES[split]
    images = read_idx(_find(data_dir, img_stem))
    labels = read_idx(_find(data_dir, lbl_stem))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
      raise ConfigError(f"{data_dir}: {img_stem} holds {images.dtype} images of shape "
                        f"{images.shape[1:]}; allowed: uint8 images of shape (28, 28)")
    if labels.ndim != 1 or len(labels) != len(images):
      raise ConfigError(f"{data_dir}: {lbl_stem} holds {labels.shape} labels for "
                        f"{len(images)} images; allowed: one label per image")
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
      raise ConfigError(f"{data_dir}: {lbl_stem} has labels in [{labels.min()}, "
                        f"{labels.max()}]; allowed: 0..{NUM_CLASSES - 1}")
    if not len(labels):
      raise ConfigError(f"{data_dir}: {img_stem} holds no images; allowed: at least one")
    return {"image": np.asarray(images, np.uint8), "label": labels.astype(np.int32)}
  import tensorflow_datasets as tfds  # Heavy import, only when TFDS is actually used.
  absl_log = logging.getLogger("absl")
  level = absl_log.level
  absl_log.setLevel(logging.ERROR)  # "Variant folder ... has no dataset_info.json": said below.
  try:
    builder = tfds.builder("mnist", data_dir=tfds_data_dir)
    prepared = builder.is_prepared()
  finally:
    absl_log.setLevel(level)
  if not prepared:
    where = builder.data_dir
    if not tfds_download:
      raise ConfigError(f"data.source='tfds' with tfds_download=False, but TFDS 'mnist' is not "
                        f"in {where}; allowed: tfds_download=True (with internet), "
                        "data.tfds_data_dir where it was prepared, or data.source=idx")
    _check_reachable(TFDS_HOST, where)
  ds = tfds.load("mnist", split=split, batch_size=-1, download=tfds_download,
                 data_dir=tfds_data_dir)
  ds = tfds.as_numpy(ds)
  return {"image": ds["image"][..., 0].astype(np.uint8), "label": ds["label"].astype(np.int32)}


TFDS_HOST = "storage.googleapis.com"  # Where TFDS downloads MNIST from.
NUM_CLASSES = 10


def _check_reachable(host: str, where: str, timeout_s: float = 5.0) -> None:
  """Offline, `tfds.load` retries its download for minutes; fail within seconds instead."""
  try:
    socket.create_connection((host, 443), timeout=timeout_s).close()
  except OSError as e:
    raise ConfigError(f"data.source='tfds': TFDS 'mnist' is not in {where} and {host} cannot be "
                      f"reached ({e}); allowed: data.source=idx (the repository's offline copy, "
                      "the default) or a machine with internet") from None


def load_from_config(config, split: str) -> dict[str, np.ndarray]:
  tfds = config.data.get("source", "idx") == "tfds"
  return load_mnist(split, None if tfds else config.data.get("dir"),
                    bool(config.data.get("tfds_download", True)),
                    config.data.get("tfds_data_dir"))


def to_float(image_u8: np.ndarray) -> np.ndarray:
  return np.asarray(image_u8, np.float32) / 255.0


def check_config(config) -> None:
  """`data.source` and `data.dir`, and with IDX files, that both splits read cleanly (before a
  run writes anything: `debate.runs.prepare_workdir`'s `check_data`)."""
  from debate.config import check
  source = config.data.get("source", "idx")
  check(source in ("idx", "tfds"), "data.source", source,
        "'idx' (a directory of MNIST IDX files, data.dir) or 'tfds' (TFDS 'mnist')")
  data_dir = config.data.get("dir")
  if source == "idx":
    check(isinstance(data_dir, str) and os.path.isdir(data_dir), "data.dir", data_dir,
          "an existing directory of MNIST IDX files (default: the repository's data/mnist), "
          "or data.source=tfds")
    for split in ("train", "test"):
      load_mnist(split, data_dir)
