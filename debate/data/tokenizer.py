"""A byte-pair tokenizer trained on a task's own text (`tokenizers`), saved in the workdir and
read back; nothing is fetched from a model hub. Id 0 is padding; the special tokens below mark
the parts of a judge's or debater's view."""
from __future__ import annotations

import os

import numpy as np

PAD, UNK = "[PAD]", "[UNK]"
# Question, option, passage; a quote arguing for option A or B; verified or unverified quote.
SPECIALS = (PAD, UNK, "[Q]", "[O]", "[P]", "[A]", "[B]", "[V]", "[U]", "[SIDE]")


class Tokenizer:
  """`encode(texts, length) -> int32 [N, length]` (truncated, padded with 0), `decode(ids)`."""

  def __init__(self, tok):
    self._tok = tok
    self.vocab_size = tok.get_vocab_size()
    self.special = {s: tok.token_to_id(s) for s in SPECIALS}
    assert self.special[PAD] == 0, "padding must be id 0"

  @classmethod
  def train(cls, texts, vocab_size: int = 512) -> "Tokenizer":
    from tokenizers import Tokenizer as HFTokenizer, decoders, models, pre_tokenizers, trainers
    tok = HFTokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return cls(tok)

  @classmethod
  def load(cls, path: str) -> "Tokenizer":
    from tokenizers import Tokenizer as HFTokenizer

    from models.errors import ConfigError
    try:
      return cls(HFTokenizer.from_file(path))
    except Exception as e:  # tokenizers raises its own Exception type for a damaged file
      raise ConfigError(f"{path} is damaged ({str(e)[:80]}); allowed: the tokenizer.json a run "
                        "wrote (delete it and rerun to train it again)") from None

  def save(self, path: str) -> None:
    from debate import io
    io.atomic_write_bytes(path, self._tok.to_str().encode())

  def ids(self, text: str) -> list[int]:
    return self._tok.encode(text, add_special_tokens=False).ids

  def encode(self, texts, length: int) -> np.ndarray:
    out = np.zeros((len(texts), length), np.int32)
    for i, enc in enumerate(self._tok.encode_batch(list(texts), add_special_tokens=False)):
      ids = enc.ids[:length]
      out[i, :len(ids)] = ids
    return out

  def decode(self, ids) -> str:
    return self._tok.decode([int(i) for i in ids if int(i) != 0], skip_special_tokens=False)


def load_or_train(path: str, texts, vocab_size: int) -> Tokenizer:
  """The tokenizer saved at `path`, or one trained on `texts` and saved there."""
  if os.path.exists(path):
    return Tokenizer.load(path)
  tok = Tokenizer.train(texts, vocab_size)
  tok.save(path)
  return tok
