"""Text debate over a hidden passage (Khan et al. 2024; Michael et al. 2023; Kenton et al. 2024):
debaters who read the passage argue for one of two options by quoting it; the judge sees the
question, the options and the quotes, each marked verified or not, and never the passage (except
under full information, the ceiling).

A move quotes one sentence of the passage (verified by construction), or one of the example's
forgeries (sentences that would support an option but are not in the passage; they reach the
judge marked unverified), or, in the open protocols, picks the side to argue. Free text from a
language model is checked with `debate.quotes.verify_quote` before it is marked.

Formats (`TextFormat.kind`; the text experiments' `protocols`), all one game, each one entry
of `FORMATS` (data: how many speak, whether the first picks its side, whether the judge reads
the passage), so a new one is one entry here plus its config name:
- `blind`: no moves; the judge sees the question and options only.
- `full_info`: no moves; the judge also reads the passage.
- `consultancy`: one consultant (the example's first mover) quotes `rounds` times for its
  assigned option; which option it argues (true or false) is the task's choice, half each.
- `open_consultancy`: the consultant first picks the option it argues, then quotes.
- `debate`: the two seats alternate, `rounds` quotes each, from the first mover; `simultaneous`:
  within a round, the second mover does not see the first mover's quote (its observation hides
  it), though the judge sees both.
- `open_debate`: the first mover picks its option (the other seat argues the other), then as
  `debate`.
- `retrieval` and `oracle`: no moves, no sides; the judge sees sentences of the passage marked
  [V]: the k = 2 x rounds sentences with the most (rarity-weighted) question words, in passage
  order, or the example's decisive evidence (`Example.evidence_K`, as the task names it). The
  baselines debate must beat: what debate adds beyond retrieval, and how close it comes to
  being shown the answer's evidence.
The judge's view is one token sequence: question, option A, option B, then [the passage
(full_info)], then per quote: who argues for which option ([A] or [B]), verified or not ([V] or
[U]), the quote. The question comes first so that a judge reading the passage reads it knowing
what it looks for.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from debate.games.base import Observation, generic_random_completion

@dataclasses.dataclass(frozen=True)
class Format:
  """A turn structure of the text game, as data."""
  speakers: int         # 0: no debate; 1: the first mover alone (consultancy); 2: alternating
  open: bool = False    # the first mover picks the option it argues (the other seat the other)
  reads_passage: bool = False  # the judge reads the passage itself (the reading ceiling)
  evidence: str | None = None  # no sides, sentences shown: "retrieval" or "oracle"


FORMATS = {
    "blind": Format(0),
    "full_info": Format(0, reads_passage=True),
    "consultancy": Format(1),
    "open_consultancy": Format(1, open=True),
    "debate": Format(2),
    "open_debate": Format(2, open=True),
    "retrieval": Format(0, evidence="retrieval"),
    "oracle": Format(0, evidence="oracle"),
}
KINDS = tuple(FORMATS)


@dataclasses.dataclass(frozen=True)
class TextFormat:
  """One game's format: its kind (a `FORMATS` name), rounds of quotes per speaker, simultaneous
  rounds (debate), and whether forgeries may be quoted. The verdict rule and claims are the
  engine's (`debate.protocols.Protocol`)."""
  kind: str = "debate"
  rounds: int = 2
  simultaneous: bool = False
  forgeries: bool = True  # Debaters may quote the example's forgeries (marked unverified).

  def __post_init__(self):
    from debate.config import ConfigError
    if self.kind not in FORMATS:
      raise ConfigError(f"protocol={self.kind!r}; allowed: {list(KINDS)}")
    if self.rounds < 0 or (self.rounds == 0 and self.spec.speakers):
      raise ConfigError(f"rounds={self.rounds}; allowed: at least 1 for {self.kind}")

  @property
  def spec(self) -> Format:
    return FORMATS[self.kind]

  @property
  def open(self) -> bool:
    return self.spec.open

  @property
  def reads_passage(self) -> bool:
    return self.spec.reads_passage

  @property
  def quotes(self) -> int:
    """Quote turns in a game."""
    return self.rounds * self.spec.speakers


class Example(NamedTuple):
  """One question over one passage, tokenized to fixed shapes (0 is padding)."""
  sents_SxL: jax.Array     # int32, the passage's sentences (quotable units)
  num_sents: jax.Array     # int32
  fakes_FxL: jax.Array     # int32, forgeries: not in the passage
  num_fakes: jax.Array     # int32
  passage_P: jax.Array     # int32, the whole passage (the full-information judge reads it)
  question_Q: jax.Array    # int32
  options_2xO: jax.Array   # int32
  label: jax.Array         # int32, the true option (debaters know it, the judge does not)
  claims_2: jax.Array      # int32, the option each seat argues (open protocols: chosen in play)
  truth_seat: jax.Array    # int32, read by the metrics only
  first: jax.Array         # int32, the first mover (the consultant)
  # float32 [S + F]: a language model's preference, per quotable unit (sentences, then
  # forgeries), for quoting it to argue option 0 rather than option 1 (its log-likelihood arguing
  # option 0 minus arguing option 1); the game's prior when `prior_kind` is "lm", else unread.
  quote_scores_U: jax.Array
  # int32 [K]: the sentences that decide the answer (-1: none; the `oracle` protocol's view)
  evidence_K: jax.Array


class State(NamedTuple):
  moves_T: jax.Array       # int32, the action of each turn (-1: not yet)
  num_moves: jax.Array     # int32
  side: jax.Array          # int32, the option the first mover picked (open protocols; -1 before)


class TextDebate:
  """The game (`debate.games.base.Game`) for one protocol and fixed sizes."""
  name = "text_debate"

  def __init__(self, protocol: TextFormat, sentences: int, fakes: int, specials: dict,
               prior_kind: str = "retrieval"):
    from debate.config import ConfigError
    if prior_kind not in ("retrieval", "lm"):
      raise ConfigError(f"prior_kind={prior_kind!r}; allowed: 'retrieval', 'lm'")
    self.prior_kind = prior_kind
    self.protocol = protocol
    self.sentences, self.fakes = sentences, fakes
    self.offset = 1 if protocol.open else 0            # The side pick, in the open protocols.
    self.max_turns = self.offset + protocol.quotes
    self.side_action = sentences + fakes                # Pick option 0; +1: option 1.
    self.num_actions = sentences + fakes + 2
    self.tok = {k: int(specials[k]) for k in ("[Q]", "[O]", "[P]", "[A]", "[B]", "[V]", "[U]",
                                              "[SIDE]")}

  def __repr__(self):
    return (f"TextDebate({self.protocol}, sentences={self.sentences}, fakes={self.fakes}, "
            f"prior={self.prior_kind})")

  def _key(self):
    return (self.protocol, self.sentences, self.fakes, self.prior_kind)

  def __hash__(self):
    return hash((self.name, *self._key()))

  def __eq__(self, other):
    return isinstance(other, TextDebate) and self._key() == other._key()

  # The state machine ----------------------------------------------------------------------------

  def init(self, example: Example) -> State:
    return State(jnp.full((max(self.max_turns, 1),), -1, jnp.int32), jnp.int32(0), jnp.int32(-1))

  def step(self, example: Example, state: State, action) -> State:
    action = jnp.asarray(action, jnp.int32)
    t = state.num_moves
    is_side = action >= self.side_action
    side = jnp.where(is_side & (state.side < 0), action - self.side_action, state.side)
    moves = jnp.where(jnp.arange(state.moves_T.shape[0]) == t, action, state.moves_T)
    return State(moves, t + 1, side)

  def terminated(self, example: Example, state: State) -> jax.Array:
    return state.num_moves >= self.max_turns

  def turn(self, example: Example, state: State) -> jax.Array:
    return state.num_moves

  def current_seat(self, example: Example, state: State) -> jax.Array:
    if self.protocol.spec.speakers == 1:
      return example.first
    quote_turn = jnp.maximum(state.num_moves - self.offset, 0)
    return (example.first + quote_turn) % 2

  def legal_mask(self, example: Example, state: State) -> jax.Array:
    a = jnp.arange(self.num_actions)
    done = self.terminated(example, state)
    picking = self.protocol.open & (state.num_moves < self.offset)
    # A seat does not repeat its own quotes; it may quote what the other seat quoted (to show
    # that the sentence supports its option instead).
    t = jnp.arange(state.moves_T.shape[0])
    seat_of_move = self._seat_of_quote(example, jnp.maximum(t - self.offset, 0))
    mine = (t < state.num_moves) & (seat_of_move == self.current_seat(example, state))
    quoted = ((a[:, None] == state.moves_T[None, :]) & mine[None, :]).any(-1)
    sentence = a < example.num_sents
    fake = (a >= self.sentences) & (a < self.sentences + example.num_fakes) & \
        self.protocol.forgeries
    quote_ok = (sentence | fake) & ~quoted
    side_ok = a >= self.side_action
    return jnp.where(done, False, jnp.where(picking, side_ok, quote_ok))

  def claims(self, example: Example, state: State) -> jax.Array:
    if not self.protocol.open:
      return example.claims_2
    chosen = jnp.where(state.side >= 0, state.side, example.claims_2[example.first])
    chooser = example.first
    return jnp.where(jnp.arange(2) == chooser, chosen, 1 - chosen).astype(jnp.int32)

  def truth_seat(self, example: Example, state: State) -> jax.Array:
    if not self.protocol.open:
      return example.truth_seat
    return jnp.where(self.claims(example, state)[0] == example.label, 0, 1).astype(jnp.int32)

  def prior(self, example: Example, state: State) -> jax.Array:
    """The seat to move's score per action: a language model's (`prior_kind` "lm": its
    preference for each quote when arguing the mover's option, `Example.quote_scores_U`; side
    picks 0), or the retrieval heuristic's."""
    if self.prior_kind == "lm":
      own = self.claims(example, state)[self.current_seat(example, state)]
      score = jnp.where(own == 0, 1.0, -1.0) * example.quote_scores_U.astype(jnp.float32)
      return jnp.concatenate([score, jnp.zeros(2, jnp.float32)])
    return self.retrieval_prior(example, state)

  def retrieval_prior(self, example: Example, state: State) -> jax.Array:
    """A retrieval heuristic for the seat to move, per action: +10 if the quote holds all of the
    mover's option's tokens, -10 if it holds the other option's, -5 for a forgery (it reaches
    the judge unverified), and up to 5 for the question's tokens it shares, each weighted by the
    fourth power of its inverse sentence frequency in the passage (a name counts, "is" barely);
    side picks score 0. One hop: it finds the sentence that names the question's subject, not
    the chain that leads to it."""
    seat = self.current_seat(example, state)
    claims = self.claims(example, state)
    units_UxL = jnp.concatenate([example.sents_SxL, example.fakes_FxL], 0)
    contains = lambda toks_K: (toks_K[:, None, None] == units_UxL[None]).any(-1)  # [K, U]
    shared = question_overlap(example, units_UxL)
    holds = lambda toks_O: (contains(toks_O) | (toks_O == 0)[:, None]).all(0)
    own = holds(example.options_2xO[claims[seat]])
    other = holds(example.options_2xO[claims[1 - seat]])
    fake = jnp.arange(units_UxL.shape[0]) >= self.sentences
    score = 5.0 * shared + 10.0 * own - 10.0 * other - 5.0 * fake
    return jnp.concatenate([score.astype(jnp.float32), jnp.zeros(2, jnp.float32)])

  def random_completion(self, rng, example: Example, state: State) -> State:
    return generic_random_completion(self, rng, example, state)

  def leaf_judge(self, judge_apply):
    return None

  # What each party sees ------------------------------------------------------------------------

  def observe(self, example: Example, state: State, seat) -> Observation:
    """Debaters read everything (the passage included), except, in simultaneous debate, the
    opponent's quote of the current round."""
    if self.protocol.simultaneous and self.protocol.spec.speakers == 2:
      q = state.num_moves - self.offset  # The quote turn about to be played.
      hide = (q % 2 == 1) & (jnp.arange(state.moves_T.shape[0]) == state.num_moves - 1)
      state = state._replace(moves_T=jnp.where(hide, -1, state.moves_T))
    return Observation(example, state, jnp.asarray(seat, jnp.int32))

  def quote_tokens(self, example: Example, action) -> jax.Array:
    """[L] tokens of a quote action (zeros for none or a side pick)."""
    s = jnp.clip(action, 0, self.sentences - 1)
    f = jnp.clip(action - self.sentences, 0, max(self.fakes - 1, 0))
    sent = example.sents_SxL[s]
    fake = example.fakes_FxL[f] if self.fakes else jnp.zeros_like(sent)
    is_quote = (action >= 0) & (action < self.side_action)
    return jnp.where(is_quote, jnp.where(action < self.sentences, sent, fake), 0)

  def judge_view(self, example: Example, state: State) -> tuple[jax.Array]:
    """int32 [N]: the judge's tokens (see the module doc); 0 is padding."""
    t = self.tok
    head = [jnp.asarray([t["[Q]"]], jnp.int32), example.question_Q,
            jnp.asarray([t["[O]"]], jnp.int32), example.options_2xO[0],
            jnp.asarray([t["[O]"]], jnp.int32), example.options_2xO[1]]
    if self.protocol.reads_passage:
      head = head + [jnp.asarray([t["[P]"]], jnp.int32), example.passage_P]
    if self.protocol.spec.evidence:
      idx_K = self.shown_evidence(example)
      for k in range(idx_K.shape[0]):
        shown = jnp.concatenate([jnp.asarray([t["[V]"]], jnp.int32),
                                 example.sents_SxL[jnp.maximum(idx_K[k], 0)]])
        head.append(jnp.where(idx_K[k] >= 0, shown, 0))
    claims = self.claims(example, state)
    turns = []
    for q in range(self.protocol.quotes):
      move = self.offset + q
      action = state.moves_T[move]
      made = move < state.num_moves
      seat = self._seat_of_quote(example, q)
      side_tok = jnp.where(claims[seat] == 0, t["[A]"], t["[B]"])
      ver_tok = jnp.where(action < self.sentences, t["[V]"], t["[U]"])
      turn = jnp.concatenate([jnp.stack([side_tok, ver_tok]).astype(jnp.int32),
                              self.quote_tokens(example, action)])
      turns.append(jnp.where(made, turn, 0))
    return (_left_pack(jnp.concatenate(head + turns)),)

  def shown_evidence(self, example: Example) -> jax.Array:
    """int32 [K]: the sentences the `retrieval` or `oracle` judge is shown, in passage order (-1:
    none). Retrieval: the k = 2 x rounds with the most question overlap (`question_overlap`)."""
    if self.protocol.spec.evidence == "oracle":
      return example.evidence_K
    k = min(2 * self.protocol.rounds, example.evidence_K.shape[0])
    S = example.sents_SxL.shape[0]
    score = jnp.where(jnp.arange(S) < example.num_sents,
                      question_overlap(example, example.sents_SxL), -1.0)
    top = jnp.sort(jnp.argsort(-score, stable=True)[:k])
    top = jnp.where(top < example.num_sents, top, -1)
    return jnp.concatenate([top, jnp.full((example.evidence_K.shape[0] - k,), -1)]).astype(
        jnp.int32)

  def debater_view(self, example: Example, state: State, seat) -> tuple[jax.Array, jax.Array]:
    """What a learned debater in `seat` reads, as (tokens_N, marks_A): the question, the options,
    the option it argues ([SIDE] [A] or [B]), the quotes so far as the judge sees them, then
    every quotable unit (the passage's sentences, then the forgeries) each closed by [V] or [U],
    and a last [SIDE]. `marks_A` is where to read each action's score: a unit's closing token,
    and for the two side picks the last token. A fixed layout (padding inside is masked), so a
    move's mark is always at the same place."""
    t = self.tok
    tok = lambda k: jnp.asarray([t[k]], jnp.int32)
    claims = self.claims(example, state)
    own = jnp.where(claims[seat] == 0, t["[A]"], t["[B]"]).astype(jnp.int32)[None]
    view = self.judge_view(example, state)[0]  # Question, options, quotes (left-packed).
    head = jnp.concatenate([tok("[SIDE]"), own, view])
    units = jnp.concatenate([example.sents_SxL, example.fakes_FxL], 0)
    U, L = units.shape
    close = jnp.where(jnp.arange(U) < self.sentences, t["[V]"], t["[U]"]).astype(jnp.int32)
    body = jnp.concatenate([units, close[:, None]], 1).reshape(-1)
    tokens = jnp.concatenate([head, body, tok("[SIDE]")])
    marks = head.shape[0] + (L + 1) * jnp.arange(U) + L
    last = tokens.shape[0] - 1
    return tokens, jnp.concatenate([marks, jnp.full((2,), last)]).astype(jnp.int32)

  def _seat_of_quote(self, example, q: int):
    if self.protocol.spec.speakers == 1:
      return example.first
    return (example.first + q) % 2

  # Transcripts a person can read -----------------------------------------------------------------

  def render(self, example: Example, transcript: dict, i: int, text: dict | None = None) -> dict:
    """Game i as one JSON row: per move the speaker, the option it argues, the quote and whether
    it was verified, and the judge's probability of each option after it. `text` (the task's
    strings for the game: sentences, forgeries, question, options) makes it readable."""
    text = text or {}
    moves, claims = [], np.asarray(transcript["claims_Bx2"][i]) if "claims_Bx2" in transcript \
        else np.asarray(example.claims_2[i])
    truth = int(np.flatnonzero(claims == int(example.label[i]))[0]) if (
        claims == int(example.label[i])).any() else int(example.truth_seat[i])
    for t, (a, s, m) in enumerate(zip(transcript["actions_BxT"][i], transcript["seats_BxT"][i],
                                      transcript["moved_BxT"][i])):
      if not m:
        continue
      a, s = int(a), int(s)
      logits = np.asarray(transcript["judge_logits_BxTxC"][i][t], np.float64)
      probs = np.exp(logits - logits.max())
      row = {"turn": t + 1, "speaker": "honest" if s == truth else "liar", "seat": s,
             "judge_probs": [round(float(p), 4) for p in probs / probs.sum()]}
      if a >= self.side_action:
        row.update(picks_option=a - self.side_action)
      else:
        verified = a < self.sentences
        quote = (text.get("sentences", [])[a:a + 1] if verified else
                 text.get("forgeries", [])[a - self.sentences:a - self.sentences + 1])
        row.update(argues_option=int(claims[s]), quote=quote[0] if quote else None,
                   sentence=a if verified else None, verified=bool(verified))
      moves.append(row)
    return {"question": text.get("question"), "options": text.get("options"),
            "true_option": int(example.label[i]), "claims": [int(c) for c in claims],
            "honest_seat": truth, "moves": moves,
            "winner": "honest" if transcript["honest_wins_B"][i] else "liar"}


def question_overlap(example: Example, units_UxL: jax.Array) -> jax.Array:
  """float [U]: the share of the question's words each unit holds, each word weighted by the
  fourth power of its inverse sentence frequency in the passage (a name counts, "is" barely)."""
  q = example.question_Q
  in_unit_QxU = (q[:, None, None] == units_UxL[None]).any(-1) & (q != 0)[:, None]
  real = jnp.arange(units_UxL.shape[0]) < example.num_sents
  df_Q = (in_unit_QxU & real[None]).sum(-1)
  idf_Q = jnp.log((example.num_sents + 1.0) / (df_Q + 1.0))
  weight_Q = jnp.where(df_Q > 0, idf_Q ** 4, 0.0)
  return (in_unit_QxU * weight_Q[:, None]).sum(0) / jnp.maximum(weight_Q.sum(), 1e-6)


def _left_pack(tokens_N: jax.Array) -> jax.Array:
  """The non-padding tokens first, in order, then padding (a causal judge reads its last real
  token; right padding never changes what it computes)."""
  keep = tokens_N != 0
  order = jnp.argsort(~keep, stable=True)
  return jnp.where(jnp.arange(tokens_N.shape[0]) < keep.sum(), tokens_N[order], 0)
