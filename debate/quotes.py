"""Quotes in free text, checked against the passage: what a language-model debater writes may
hold quotations (in straight or curly double quotes); each is VERIFIED when it is a span of the
passage (`verify_quote`: case, spacing and punctuation aside, whole words) and UNVERIFIED
otherwise, and the judge is shown the mark beside it (as in ucl-dark/llm_debate's quote
verification). Game-agnostic: any text game whose debaters write text uses it.

  found = find_quotes(argument, passage)    # [Quote(text, start, end, verified)]
  shown = mark_quotes(argument, found)      # '... "the cat sat" (VERIFIED) ...'
"""
from __future__ import annotations

import dataclasses
import re
import string

_OPEN_CLOSE = {"\u201c": "\"", "\u201d": "\"", "\u201e": "\"", "\u00ab": "\"", "\u00bb": "\""}
_QUOTE = re.compile(r"\"([^\"]+)\"")
_PUNCT = re.compile(f"[{re.escape(string.punctuation)}\u2018\u2019\u201c\u201d\u2014\u2013]")


_SENTENCE_END = re.compile(r"[.!?;]+(?=[\s\"'\u2019\u201d)]|$)")


def normalise(text: str) -> str:
  """Lower case, white space collapsed, punctuation removed except where a sentence ends: that
  stays a boundary (`|`), so a quote may not join two sentences into a new claim ("The guard was
  not. Guilty men ..." never verifies "the guard was not guilty")."""
  return " ".join(_PUNCT.sub(" ", _SENTENCE_END.sub(" \x00 ", text.lower())).replace(
      "\x00", "|").split())


def verify_quote(passage: str, quote: str) -> bool:
  """Is `quote` a span of `passage`: exactly, or after normalising case, white space and
  punctuation (`normalise`)? A paraphrase, a forged or a stitched span is not, nor one that
  starts or ends inside a word, nor one that runs two sentences together."""
  if not quote.strip():
    return False
  if re.search(rf"(?<![^\W_]){re.escape(quote)}(?![^\W_])", passage):
    return True
  q = normalise(quote)
  return bool(q.replace("|", "").strip()) and f" {q} " in f" {normalise(passage)} "


@dataclasses.dataclass(frozen=True)
class Quote:
  text: str        # as written, without the quotation marks
  start: int       # the span of `text` in the (straight-quoted) argument
  end: int
  verified: bool


def straighten(text: str) -> str:
  """Curly and angled double quotes as straight ones (same length: spans stay valid)."""
  return "".join(_OPEN_CLOSE.get(ch, ch) for ch in text)


def find_quotes(text: str, passage: str) -> list[Quote]:
  """Every double-quoted span of `text`, in order, each checked with `verify_quote`."""
  return [Quote(m.group(1), m.start(1), m.end(1), verify_quote(passage, m.group(1)))
          for m in _QUOTE.finditer(straighten(text))]


def mark_quotes(text: str, quotes: list[Quote]) -> str:
  """`text` with straight quotation marks and " (VERIFIED)" or " (UNVERIFIED)" after each quote."""
  text, out, at = straighten(text), [], 0
  for q in quotes:
    out += [text[at:q.end + 1], " (VERIFIED)" if q.verified else " (UNVERIFIED)"]
    at = q.end + 1
  return "".join(out + [text[at:]])


def as_json(quotes: list[Quote]) -> list[dict]:
  return [{"text": q.text, "start": q.start, "end": q.end, "verified": q.verified}
          for q in quotes]


def from_json(rows: list[dict]) -> list[Quote]:
  return [Quote(r["text"], int(r["start"]), int(r["end"]), bool(r["verified"])) for r in rows]
