"""The text-debate game: quotes are checked, the judge sees only what its protocol allows,
consultancy assigns sides evenly, open protocols let the debater choose, stored games are
re-judged without replaying them."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import cotrain, judging, protocols, rollout
from debate.data import reading, tokenizer as tok_lib
from debate.debaters.base import Debater, one_hot_output
from debate.debaters import make_debater
from debate.games import text as tg
from debate.quotes import verify_quote
from debate.tasks.base import GameKey
from debate.tasks.reading import ReadingTask, Sizes
from experiments import text_debate

PASSAGE = ("Ana's hat is red. Later, Ana dyed her hat blue.  Bo owns a dog. "
           "\u201cQuiet,\u201d said the clerk. The guard was not. Guilty men ran.")
P = protocols.Protocol(precommit=True)


@pytest.mark.parametrize("quote,ok", [
    ("Ana's hat is red.", True),                       # exact
    ("later, ANA dyed her hat   blue", True),          # case, white space, punctuation
    ("Later Ana dyed her hat blue.", True),
    ("\"Quiet,\" said the clerk.", True),              # curly quotes normalise to none
    ("Ana's hat is blue.", False),                     # forged
    ("Ana dyed her hat blue later.", False),           # paraphrased
    ("Ana's hat is red. Bo owns a dog.", False),       # stitched from two places
    ("na's hat is red", False),                        # not at a word boundary
    ("The guard was not guilty", False),               # two sentences joined: meaning inverted
    ("the guard was not. Guilty men", True),           # across the sentence end, as written
    ("Bo owns a dog", True),                           # the sentence's own end may be left off
    ("", False), ("   ", False), ("...", False),
])
def test_verify_quote(quote, ok):
  assert verify_quote(PASSAGE, quote) is ok


@pytest.fixture(scope="module")
def corpus():
  rows = reading.generate(48, seed=0, cfg=reading.ReadingConfig(sentences=20, distractors=2))
  # A sentence no debater can quote (past the quotable ones) marks the passage itself.
  for r in rows:
    r["passage"] += " Zanzibar quokka xylophone."
  tok = tok_lib.Tokenizer.train([r["passage"] for r in rows] + [r["question"] for r in rows] +
                                [f for r in rows for f in r["forgeries"]], 600)
  return rows, tok


def task_for(corpus, kind, rounds=2):
  rows, tok = corpus
  return ReadingTask(rows, tok, Sizes(sentences=20, passage_tokens=400, sentence_tokens=24,
                                      question_tokens=32),
                     tg.TextFormat(kind, rounds))


def bag_judge(params, tokens_BxN):
  """Logits from a bag of the view's tokens (random weights): a judge that reads everything."""
  w = params[tokens_BxN] * (tokens_BxN != 0)[..., None]
  return w.sum(1)


PARAMS = jax.random.normal(jax.random.PRNGKey(0), (600, 2))


def play(task, names=("random", "random"), key=None, seed=0):
  key = key if key is not None else cotrain.balanced_keys(task, np.arange(len(task)), None)
  ds = [n if isinstance(n, Debater) else make_debater(n, task.game, P, bag_judge, sims=4)
        for n in names]
  player = rollout.make_player(None, game=task.game, protocol=P, debaters=tuple(ds),
                               judge_apply=bag_judge)
  ex = task.examples(key)
  return ex, key, jax.device_get(player(jax.random.PRNGKey(seed), PARAMS, (None, None),
                                        ex))._asdict()


@pytest.mark.parametrize("kind", tg.KINDS)
def test_the_judge_never_receives_the_passage_outside_full_information(corpus, kind):
  rows, tok = corpus
  task = task_for(corpus, kind)
  ex, key, out = play(task)
  views = judging.views_of(task.game, ex, out)["view"][0]  # every move's view
  marker = set(tok.ids(" Zanzibar quokka xylophone.")) - set(tok.ids(" ".join(
      r["passage"].replace(" Zanzibar quokka xylophone.", "") for r in rows)))
  assert marker, "the marker must have tokens of its own"
  has_marker = np.isin(views, list(marker)).any(-1)
  assert has_marker.all() if kind == "full_info" else not has_marker.any()
  if kind not in ("full_info", "retrieval", "oracle"):  # (those two: next test)
    # What the judge sees depends only on the question, the options and what was quoted:
    # scrambling the passage and every unquoted sentence changes no view.
    rng = np.random.default_rng(0)
    quoted = np.zeros(ex.sents_SxL.shape[:2], bool)
    for b, moves in enumerate(out["actions_BxT"]):
      for a in moves[(moves >= 0) & (moves < task.game.sentences)]:
        quoted[b, a] = True
    noise = rng.integers(10, 300, ex.sents_SxL.shape).astype(np.int32)
    scrambled = ex._replace(passage_P=rng.integers(10, 300, ex.passage_P.shape).astype(np.int32),
                            sents_SxL=np.where(quoted[..., None], ex.sents_SxL, noise))
    again = judging.views_of(task.game, scrambled, out)["view"][0]
    np.testing.assert_array_equal(views, again)


@pytest.mark.parametrize("kind", ["retrieval", "oracle"])
def test_retrieval_and_oracle_show_their_sentences_and_no_sides(corpus, kind):
  """Oracle: exactly the example's decisive sentences; retrieval: the 2 x rounds sentences with
  the most question overlap; neither shows a side, and nothing else of the passage."""
  rows, tok = corpus
  task = task_for(corpus, kind)
  ex, key, out = play(task)
  views = judging.views_of(task.game, ex, out, every_move=False)["view"][0]
  for b in range(len(views)):
    i = int(key.example_id[b])
    text = tok.decode(views[b])
    assert tok.special["[A]"] not in views[b] and tok.special["[B]"] not in views[b]
    shown = [s for s in rows[i]["sentences"] if s in text]
    if kind == "oracle":
      assert shown == [rows[i]["sentences"][e] for e in rows[i]["evidence"]]
    else:
      assert len(shown) == 4
      q = rows[i]["question"].replace("?", "").split()
      overlap = lambda s: len(set(q) & set(s.rstrip(".").replace("'s", "").split()))
      best = max(overlap(s) for s in rows[i]["sentences"])
      assert any(overlap(s) == best for s in shown)  # the best match is among them
      assert (views[b] == tok.special["[V]"]).sum() == 4


def test_quotes_reach_the_judge_marked_verified_or_not(corpus):
  rows, tok = corpus
  task = task_for(corpus, "debate", rounds=1)
  s = task.game.sentences
  forge = Debater("forge", lambda p, r, o, legal, batch_axes=(): one_hot_output(
      jnp.full(legal.shape[:1], s), legal.shape[-1]))
  quote0 = Debater("quote0", lambda p, r, o, legal, batch_axes=(): one_hot_output(
      jnp.zeros(legal.shape[:1], jnp.int32), legal.shape[-1]))
  ex, key, out = play(task, (quote0, forge))
  final = judging.views_of(task.game, ex, out, every_move=False)["view"][0]
  V, U = tok.special["[V]"], tok.special["[U]"]
  assert ((final == V).sum(1) == 1).all() and ((final == U).sum(1) == 1).all()
  text = tok.decode(final[0])
  assert rows[0]["sentences"][0] in text and rows[0]["forgeries"][0] in text
  # The transcript row says the same, and the quoted strings verify against the passage.
  row = task.game.render(ex, out, 0, task.text(0))
  assert [m["verified"] for m in row["moves"]] == [True, False] or \
      [m["verified"] for m in row["moves"]] == [False, True]
  for m in row["moves"]:
    assert verify_quote(rows[0]["passage"], m["quote"]) is m["verified"]


def test_consultancy_assigns_the_true_and_false_side_half_each(corpus):
  task = task_for(corpus, "consultancy")
  ex, key, out = play(task)
  assert (out["seats_BxT"] == key.first[:, None]).all()  # Only the consultant speaks.
  honest = key.first == key.truth_seat
  assert honest.mean() == 0.5
  # The consultant argues its assigned claim: the truth exactly when it is honest.
  consultant_claim = out["claims_Bx2"][np.arange(len(honest)), key.first]
  np.testing.assert_array_equal(consultant_claim == task.truth(key.example_id), honest)


@pytest.mark.parametrize("kind", ["open_consultancy", "open_debate"])
@pytest.mark.parametrize("side", [0, 1])
def test_open_protocols_let_the_debater_choose(corpus, kind, side):
  task = task_for(corpus, kind)
  pick = task.game.side_action + side

  def apply(p, r, obs, legal, batch_axes=()):
    lowest = jnp.argmax(legal, -1)
    return one_hot_output(jnp.where(legal[:, pick], pick, lowest), legal.shape[-1])

  chooser = Debater("chooser", apply)
  ex, key, out = play(task, (chooser, chooser))
  first = key.first
  assert (out["actions_BxT"][:, 0] == pick).all() and (out["seats_BxT"][:, 0] == first).all()
  assert (out["claims_Bx2"][np.arange(len(first)), first] == side).all()
  assert (out["claims_Bx2"][np.arange(len(first)), 1 - first] == 1 - side).all()
  # The honest side is whoever ended up arguing the truth.
  truth = task.truth(key.example_id)
  honest0 = out["claims_Bx2"][:, 0] == truth
  np.testing.assert_array_equal(out["honest_wins_B"], out["seat0_wins_B"] == honest0)
  if kind == "open_debate":  # The chooser moves twice in a row: the pick, then its quote.
    assert (out["seats_BxT"][:, 1] == first).all() and (out["seats_BxT"][:, 2] == 1 - first).all()


def test_lookahead_picks_the_side_its_play_wins(corpus):
  # Open debate: the side-picker plays each side out with its own best-of-4 play and picks the
  # better one, so it wins at least as often as the worse of always picking A or always B.
  task = task_for(corpus, "open_debate", rounds=1)
  d = text_debate.debater(task, bag_judge, "best_of-4")
  player = rollout.make_player(None, game=task.game, protocol=P, debaters=(d, d),
                               judge_apply=bag_judge)
  key = cotrain.balanced_keys(task, np.arange(len(task)), None)
  out = jax.device_get(player(jax.random.PRNGKey(1), PARAMS, (None, None), task.examples(key)))
  picker_won = np.where(key.first == 0, out.seat0_wins_B, ~out.seat0_wins_B)
  both = []
  for side in (0, 1):
    ex, _, fixed = play(task, (_always_side(task, side), _always_side(task, side)), key)
    both.append(np.where(key.first == 0, fixed["seat0_wins_B"], ~fixed["seat0_wins_B"]).mean())
  assert picker_won.mean() >= min(both)


def _always_side(task, side):
  pick = task.game.side_action + side

  def apply(p, r, obs, legal, batch_axes=()):
    return one_hot_output(jnp.where(legal[:, pick], pick, jnp.argmax(legal, -1)),
                          legal.shape[-1])
  return Debater("side", apply)


def test_rejudging_stored_games_with_the_same_judge_reproduces_the_verdicts(corpus, tmp_path):
  task = task_for(corpus, "debate")
  ex, key, out = play(task, ("best_of", "random"), seed=3)
  cotrain.save_games(str(tmp_path / "games.npz"), key, out)
  again = cotrain.rejudge(task, bag_judge, PARAMS, str(tmp_path / "games.npz"))
  np.testing.assert_array_equal(again["honest_wins_B"], out["honest_wins_B"])
  np.testing.assert_allclose(again["final_logits_BxC"], out["final_logits_BxC"], rtol=1e-5)
  # Another judge gives other verdicts on the same games, without replaying them.
  other = cotrain.rejudge(task, bag_judge, -PARAMS, str(tmp_path / "games.npz"))
  assert (other["seat0_wins_B"] != out["seat0_wins_B"]).mean() > 0.9


def test_the_heuristic_quotes_what_bears_on_the_question():
  # On questions about a changed fact, each side's best quote is a sentence of the passage on the
  # asked person's thing that states its own colour (the truth's change or statement, the
  # earlier value or the change the liar needs): the quotes a judge must weigh against each
  # other.
  rows = reading.generate(40, seed=2, cfg=reading.ReadingConfig(sentences=24, distractors=3,
                                                                hops=1, overrides=2, tricky=1.0))
  tok = tok_lib.Tokenizer.train([r["passage"] for r in rows] + [r["question"] for r in rows] +
                                [f for r in rows for f in r["forgeries"]], 1000)
  task = ReadingTask(rows, tok, Sizes(sentences=24, sentence_tokens=24, question_tokens=32),
                     tg.TextFormat("consultancy", 1))
  d = make_debater("heuristic", task.game, P, None)
  ids = np.arange(len(rows))
  truth = task.truth(ids)
  for honest in (True, False):
    own = truth if honest else 1 - truth
    key = GameKey(ids.astype(np.int32), np.stack([own, 1 - own], 1),
                                    np.zeros(len(ids), np.int32),
                                    np.full(len(ids), 0 if honest else 1, np.int32))
    player = rollout.make_player(None, game=task.game, protocol=P, debaters=(d, d),
                                 judge_apply=bag_judge)
    out = jax.device_get(player(jax.random.PRNGKey(0), PARAMS, (None, None),
                                task.examples(key)))
    hits = []
    for r, a in zip(rows, out.actions_BxT[:, 0]):
      colour = r["options"][r["label"]] if honest else r["options"][1 - r["label"]]
      quote = r["sentences"][a]
      hits.append(r["target"] in quote and colour in quote and r["attribute"] in quote)
    assert np.mean(hits) >= 0.75, (honest, np.mean(hits))  # lexical: 80-88% here


def test_the_heuristic_needs_a_game_with_a_prior():
  from debate.config import ConfigError
  from tests.toy_game import MajorityBits
  with pytest.raises(ConfigError, match="needs a game with a prior"):
    make_debater("heuristic", MajorityBits(), P, None)


@pytest.mark.slow  # the learner's masking of illegal moves is tested in the default suite on the
# toy and MNIST games; this case checks the text view's layout (and plays in the slow text smoke)
def test_a_learned_debater_reads_its_view_and_never_picks_illegal_moves(corpus):
  # Open consultancy: a side pick, then quotes, all from the network.
  import ml_collections
  from experiments.common import text_setup
  from debate.train import trainer
  task = task_for(corpus, "open_consultancy", rounds=2)
  cfg = ml_collections.ConfigDict({"learned": dict(width=16, layers=1, heads=2, kv_heads=1,
                                                   head_width=8, mlp_width=32)})
  network_for, _ = text_setup.debater_network(cfg, corpus[1])
  net = network_for(task.game)
  params = trainer.init_params(net.init, jax.random.PRNGKey(0))
  # Each action's mark is the closing token of its unit ([V] sentence, [U] forgery), or the
  # final [SIDE] for the side picks; the view holds the mover's option marker, not the passage.
  ex = jax.tree.map(lambda x: x[0], task.examples(cotrain.balanced_keys(task, np.arange(2),
                                                                        None)))
  tokens, marks = task.game.debater_view(ex, task.game.init(ex), 0)
  sp = corpus[1].special
  closing = np.asarray(tokens)[np.asarray(marks)]
  S = task.game.sentences
  assert (closing[:S] == sp["[V]"]).all() and (closing[S:-2] == sp["[U]"]).all()
  assert (closing[-2:] == sp["[SIDE]"]).all()
  d = make_debater("learned", task.game, P, bag_judge, guide=net.guide)
  player = rollout.make_player(None, game=task.game, protocol=P, debaters=(d, d),
                               judge_apply=bag_judge)
  key = cotrain.balanced_keys(task, np.arange(len(task)), None)
  examples = task.examples(key)
  out = jax.device_get(player(jax.random.PRNGKey(0), PARAMS, (params, params), examples))
  states = rollout.replay(task.game, examples, out.actions_BxT, out.moved_BxT)
  for t in range(task.game.max_turns):
    legal = jax.vmap(task.game.legal_mask)(examples, jax.tree.map(lambda x: x[:, t], states))
    picked = np.asarray(legal)[np.arange(len(key.example_id)), np.maximum(out.actions_BxT[:, t],
                                                                          0)]
    assert picked[out.moved_BxT[:, t]].all()
  assert np.abs(out.policy_BxTxA.sum(-1)[out.moved_BxT] - 1).max() < 1e-5


def test_a_seat_may_quote_what_the_other_quoted_but_not_repeat_itself(corpus):
  task = task_for(corpus, "debate", rounds=2)
  g = task.game
  ex = jax.tree.map(lambda x: x[0], task.examples(cotrain.balanced_keys(task, np.arange(2),
                                                                        None)))
  s = g.init(ex)
  first = int(g.current_seat(ex, s))
  s = g.step(ex, s, 3)                     # The first mover quotes sentence 3.
  assert int(g.current_seat(ex, s)) == 1 - first
  assert bool(g.legal_mask(ex, s)[3])      # The other seat may quote it too ...
  s = g.step(ex, s, 3)
  assert int(g.current_seat(ex, s)) == first
  legal = np.asarray(g.legal_mask(ex, s))
  assert not legal[3] and legal[4]         # ... and the first mover may not repeat it.


def test_honest_and_liar_roles_play_their_own_debaters(corpus):
  # heuristic/random: the seat with the true option plays exactly what the heuristic plays, and
  # the other seat what random plays, in every game whichever seat is honest.
  from debate.debaters.simple import make_by_role
  task = task_for(corpus, "debate", rounds=2)
  h, r = (make_debater(n, task.game, P, bag_judge) for n in ("heuristic", "random"))
  key = cotrain.balanced_keys(task, np.arange(len(task)), None)
  _, _, mixed = play(task, (make_by_role(task.game, h, r),) * 2, key)
  _, _, honest = play(task, (h, h), key)
  _, _, liar = play(task, (r, r), key)
  is_honest = mixed["seats_BxT"] == key.truth_seat[:, None]
  np.testing.assert_array_equal(mixed["actions_BxT"][is_honest], honest["actions_BxT"][is_honest])
  np.testing.assert_array_equal(mixed["actions_BxT"][~is_honest], liar["actions_BxT"][~is_honest])
