"""A pretrained model's tokenizer rebuilt from its GGUF metadata (`tokenizer.ggml.*`) with the
`tokenizers` library, and its chat template applied as the model expects.

GGUF keeps a byte-level BPE ("gpt2") tokenizer as its vocabulary, merges, token types and a
pre-tokenizer name; llama.cpp splits digits one by one for `smollm` (and the other names that
do), then applies GPT-2's byte-level split.
"""
from __future__ import annotations

import dataclasses

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from models.errors import ConfigError

CONTROL = 3  # GGUF token type of special (control) tokens.
# Pre-tokenizer names whose digits are split one at a time (llama.cpp's table).
SINGLE_DIGITS = ("smollm", "starcoder", "refact", "falcon3")


@dataclasses.dataclass
class PretrainedTokenizer:
  """Token ids as the decoder reads them: the file's ids plus `offset` (1 when the file's id 0 is
  an ordinary token, `models.llama_weights.Checkpoint.id_offset`; our id 0 is padding)."""
  tokenizer: Tokenizer
  bos_id: int | None   # (with the offset, as every id here)
  eos_id: int | None
  add_bos: bool
  chat_template: str | None
  offset: int = 0

  def encode(self, text: str, bos: bool = True) -> list[int]:
    """Token ids of `text` (special tokens written in it, like <|im_start|>, are parsed); the
    BOS token first when the model adds one, `bos` and the text (a chat template) has not."""
    ids = [i + self.offset for i in self.tokenizer.encode(text, add_special_tokens=False).ids]
    if 0 in ids:  # The decoder reads token 0 as padding (SmolLM2's <|endoftext|>).
      raise ConfigError(f"text {text[:40]!r}... holds token id 0 "
                        f"({self.tokenizer.id_to_token(0)!r}), a special token the decoder reads "
                        "as padding; allowed: text without it")
    first = bos and self.add_bos and self.bos_id is not None and ids[:1] != [self.bos_id]
    return ([self.bos_id] if first else []) + ids

  def encode_text(self, text: str) -> list[int]:
    """Token ids of untrusted text (a story, a quote, a debater's or a model's words): special
    tokens written in it (`<|im_end|>`, ...) stay plain characters, never control tokens."""
    previous = self.tokenizer.encode_special_tokens
    self.tokenizer.encode_special_tokens = True
    try:
      ids = [i + self.offset for i in self.tokenizer.encode(text, add_special_tokens=False).ids]
    finally:
      self.tokenizer.encode_special_tokens = previous
    if 0 in ids:
      raise ConfigError(f"text {text[:40]!r}... holds token id 0 "
                        f"({self.tokenizer.id_to_token(0)!r}) as plain text; allowed: text the "
                        "tokenizer does not map to the decoder's padding id")
    return ids

  def encode_chat(self, messages: list[dict], suffix: str = "",
                  add_generation_prompt: bool = True) -> list[int]:
    """A chat prompt's ids: the template's own markup encoded with its special tokens, every
    message's content and `suffix` as untrusted text (`encode_text`), so nothing a message holds
    can close its turn or open another."""
    import secrets
    nonce = secrets.token_hex(8)
    marks = [f"\u2063{nonce}:{i}\u2063" for i in range(len(messages))]
    rendered = self.chat([{**m, "content": mark} for m, mark in zip(messages, marks)],
                         add_generation_prompt)
    ids, rest = [], rendered
    for mark, m in zip(marks, messages):
      head, found, rest = rest.partition(mark)
      if not found:
        raise ConfigError("the chat template does not write each message's content once; "
                          "allowed: templates that do")
      ids += self.encode(head, bos=not ids) if head else []
      ids += self.encode_text(m["content"])
    ids += self.encode(rest, bos=False) if rest else []
    return ids + (self.encode_text(suffix) if suffix else [])

  def decode(self, ids) -> str:
    return self.tokenizer.decode([int(i) - self.offset for i in ids if int(i) >= self.offset],
                                 skip_special_tokens=False)

  def token_id(self, token: str) -> int:
    i = self.tokenizer.token_to_id(token)
    if i is None:
      raise ConfigError(f"token {token!r} is not in the model's vocabulary")
    return i + self.offset

  def chat(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
    """The file's chat template rendered (jinja2, sandboxed) over `messages` ({role, content})."""
    if not self.chat_template:
      raise ConfigError("this model's file has no tokenizer.chat_template; allowed: plain "
                        "prompts (encode) with it")
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
      raise ConfigError(f"the chat template refused the messages: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(self.chat_template)
    tok = lambda i: self.tokenizer.id_to_token(i - self.offset) if i is not None else ""
    return template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                           raise_exception=raise_exception, bos_token=tok(self.bos_id),
                           eos_token=tok(self.eos_id))


def from_gguf_meta(meta: dict, offset: int = 0) -> PretrainedTokenizer:
  """`meta`: the file's `tokenizer.*` fields (`models.llama_weights.Checkpoint.tokenizer_meta`)."""
  kind = meta.get("tokenizer.ggml.model")
  if kind != "gpt2":
    raise ConfigError(f"tokenizer.ggml.model={kind!r}; allowed: 'gpt2' (byte-level BPE)")
  tokens = list(meta["tokenizer.ggml.tokens"])
  merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
  vocab = {t: i for i, t in enumerate(tokens)}
  tk = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
  byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
  if meta.get("tokenizer.ggml.pre") in SINGLE_DIGITS:
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                byte_level])
  else:
    tk.pre_tokenizer = byte_level
  tk.decoder = decoders.ByteLevel()
  types = list(meta.get("tokenizer.ggml.token_type", []))
  specials = [AddedToken(tokens[i], special=True, normalized=False)
              for i, t in enumerate(types) if t == CONTROL]
  tk.add_special_tokens(specials)
  get = lambda k: (int(meta[k]) + offset if meta.get(k) is not None else None)
  return PretrainedTokenizer(tk, get("tokenizer.ggml.bos_token_id"),
                             get("tokenizer.ggml.eos_token_id"),
                             bool(meta.get("tokenizer.ggml.add_bos_token", False)),
                             meta.get("tokenizer.chat_template"), offset)


def from_directory(directory: str, offset: int = 0) -> PretrainedTokenizer:
  """A Hugging Face model directory's `tokenizer.json`, with the BOS/EOS tokens and chat
  template of its `tokenizer_config.json` (when it has one)."""
  import json
  import os
  path = os.path.join(directory, "tokenizer.json")
  if not os.path.isfile(path):
    raise ConfigError(f"model {directory!r} has no tokenizer.json; allowed: a directory with "
                      "config.json, *.safetensors and tokenizer.json")
  tk = Tokenizer.from_file(path)
  conf = {}
  if os.path.isfile(os.path.join(directory, "tokenizer_config.json")):
    with open(os.path.join(directory, "tokenizer_config.json")) as f:
      conf = json.load(f)
  token = lambda k: (conf.get(k)["content"] if isinstance(conf.get(k), dict) else conf.get(k))
  def tid(key):
    i = tk.token_to_id(token(key)) if token(key) else None
    return None if i is None else i + offset
  return PretrainedTokenizer(tk, tid("bos_token"), tid("eos_token"),
                             bool(conf.get("add_bos_token", False)), conf.get("chat_template"),
                             offset)


def for_checkpoint(checkpoint) -> PretrainedTokenizer:
  """The tokenizer a `models.llama_weights.Checkpoint` came with (GGUF metadata, or the
  safetensors directory's tokenizer files)."""
  offset = checkpoint.id_offset
  if "directory" in checkpoint.tokenizer_meta:
    return from_directory(checkpoint.tokenizer_meta["directory"], offset)
  return from_gguf_meta(checkpoint.tokenizer_meta, offset)
