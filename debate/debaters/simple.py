"""The random and greedy debaters, for any game whose observation carries (example, state)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from debate.debaters.base import Debater, DebaterOutput, Env, for_seat, one_hot_output


def make_random() -> Debater:

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    del params
    env = Env(None, None, None, None, tuple(batch_axes))
    scores = jnp.where(legal_BxA, env.random(jax.random.gumbel, rng, legal_BxA.shape), -jnp.inf)
    weights = legal_BxA / jnp.maximum(legal_BxA.sum(-1, keepdims=True), 1)
    action = jnp.argmax(scores, axis=-1).astype(jnp.int32)
    return DebaterOutput(action, weights, jnp.zeros(action.shape, jnp.float32))

  return Debater("random", apply)


def make_heuristic(game, temperature: float = 0.0) -> Debater:
  """Plays the legal move the game's own heuristic scores best (`Game.prior`; ties broken at
  random), or with `temperature` > 0 samples softmax(prior / temperature). Needs no judge: a
  baseline, and the opening play that gives a judge trained from scratch something to read."""
  if not callable(getattr(game, "prior", None)):
    from debate.config import ConfigError
    raise ConfigError(f"debater 'heuristic' needs a game with a prior; {game.name} has none")

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    del params
    env = Env(None, None, None, None, tuple(batch_axes))
    prior_BxA = jax.vmap(game.prior)(obs.example, obs.state)
    noise = env.random(jax.random.gumbel, rng, legal_BxA.shape)
    score = prior_BxA / temperature + noise if temperature > 0 else prior_BxA + 1e-3 * noise
    action = jnp.argmax(jnp.where(legal_BxA, score, -jnp.inf), axis=-1).astype(jnp.int32)
    weights = (jax.nn.softmax(jnp.where(legal_BxA, prior_BxA / temperature, -jnp.inf), -1)
               if temperature > 0 else jax.nn.one_hot(action, legal_BxA.shape[-1]))
    return DebaterOutput(action, weights, jnp.zeros(action.shape, jnp.float32))

  return Debater("heuristic", apply)


def make_greedy(game, protocol, judge_apply, chunk: int = 32, *, temperature: float = 0.0,
                sample: bool = False) -> Debater:
  """Scores every legal move by the judge's margin after it and takes the best for its own
  side (one ply, no look-ahead). With an exact incremental judge (`Game.leaf_judge`), only legal
  moves are scored, each from the position's cached activations plus one move; otherwise the
  B x A candidate positions are judged whole, `chunk` actions per call.

  With `temperature` > 0 the action weights are softmax(margin / temperature) over legal moves
  (a soft greedy policy: self-play's teacher for a warm start), and with `sample` the move is
  drawn from them; otherwise the weights are one-hot on the best move."""

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    env = Env(game, protocol, judge_apply, params["judge"], tuple(batch_axes))
    example, state = obs.example, obs.state
    margins = scores_of_moves(env, example, state, legal_BxA, chunk)
    own = for_seat(margins, env.seat(example, state)[:, None])
    own = jnp.where(legal_BxA, own, -jnp.inf)
    value = jnp.tanh(own.max(-1))
    if temperature <= 0:
      return one_hot_output(jnp.argmax(own, axis=-1), legal_BxA.shape[-1], value)
    weights = jax.nn.softmax(own / temperature, axis=-1)
    score = own / temperature
    if sample:
      score = score + env.random(jax.random.gumbel, rng, legal_BxA.shape)
    action = jnp.argmax(jnp.where(legal_BxA, score, -jnp.inf), axis=-1).astype(jnp.int32)
    return DebaterOutput(action, weights, value)

  return Debater("greedy", apply, deterministic=not sample, judge_calls=lambda a: a)


def make_best_of(game, protocol, judge_apply, n: int, from_prior: bool = False) -> Debater:
  """Best-of-n: samples n distinct legal moves (fewer when fewer are legal) and plays the one
  after which the judge leans most to its own side (one ply, n judge calls). n = 1 is random
  play; n >= the legal moves is greedy. Khan et al. (2024) make debaters more persuasive the
  same way. `from_prior`: the n are drawn from softmax(the game's prior) without replacement
  (Gumbel top-n) instead of uniformly: a proposer's best-of-n (a language model's, when the
  prior is one)."""
  n = max(1, min(int(n), game.num_actions))

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    env = Env(game, protocol, judge_apply, params["judge"], tuple(batch_axes))
    example, state = obs.example, obs.state
    B = legal_BxA.shape[0]
    noise = env.random(jax.random.gumbel, rng, legal_BxA.shape)
    if from_prior:
      noise = noise + jax.vmap(game.prior)(example, state)
    _, cand_BxN = jax.lax.top_k(jnp.where(legal_BxA, noise, -jnp.inf), n)
    valid_BxN = jnp.take_along_axis(legal_BxA, cand_BxN, 1)
    step = jax.vmap(jax.vmap(game.step, in_axes=(None, None, 0)), in_axes=(0, 0, 0))
    after = jax.tree.map(lambda x: x.reshape(B * n, *x.shape[2:]), step(example, state, cand_BxN))
    flat_ex = jax.tree.map(lambda x: jnp.repeat(x, n, axis=0), example)
    margin = env.seat0_margin(flat_ex, after, env.logits(flat_ex, after)).reshape(B, n)
    own = jnp.where(valid_BxN, for_seat(margin, env.seat(example, state)[:, None]), -jnp.inf)
    action = jnp.take_along_axis(cand_BxN, jnp.argmax(own, -1)[:, None], 1)[:, 0]
    return one_hot_output(action, legal_BxA.shape[-1], jnp.tanh(own.max(-1)))

  return Debater(f"{'prior_' if from_prior else ''}best_of_{n}", apply,
                 judge_calls=lambda a: n)


def make_lookahead(game, protocol, judge_apply, inner: Debater, branches: int = 2) -> Debater:
  """`inner`, except where at most `branches` moves are legal (a side pick in the open
  protocols, say): there each of them is played out to the end with `inner` on both seats, and
  the move whose final verdict leans most to the mover's side is played (a one-ply search with
  the debater's own play as the rollout)."""
  from debate import rollout

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    env = Env(game, protocol, judge_apply, params["judge"], tuple(batch_axes))
    example, state = obs.example, obs.state
    few = legal_BxA.sum(-1) <= branches
    out = inner.apply(params, rng, obs, legal_BxA, batch_axes=batch_axes)
    B = legal_BxA.shape[0]
    _, cand_BxN = jax.lax.top_k(legal_BxA.astype(jnp.float32), branches)
    valid_BxN = jnp.take_along_axis(legal_BxA, cand_BxN, 1)

    def play_out():
      step = jax.vmap(jax.vmap(game.step, in_axes=(None, None, 0)), in_axes=(0, 0, 0))
      after = jax.tree.map(lambda x: x.reshape(B * branches, *x.shape[2:]),
                           step(example, state, cand_BxN))
      flat_ex = jax.tree.map(lambda x: jnp.repeat(x, branches, axis=0), example)
      played = rollout.play(rng, params["judge"], (params.get("net"), params.get("net")),
                            flat_ex, game=game, protocol=protocol, debaters=(inner, inner),
                            judge_apply=judge_apply, batch_axes=batch_axes, state0=after)
      return jax.vmap(protocol.seat0_margin)(played.final_logits_BxC,
                                             played.claims_Bx2).reshape(B, branches)

    wanted = jnp.any(few)
    if batch_axes:
      wanted = jax.lax.psum(wanted.astype(jnp.int32), batch_axes) > 0
    margin = jax.lax.cond(wanted, play_out, lambda: jnp.zeros((B, branches), jnp.float32))
    own = jnp.where(valid_BxN, for_seat(margin, env.seat(example, state)[:, None]), -jnp.inf)
    best = jnp.take_along_axis(cand_BxN, jnp.argmax(own, -1)[:, None], 1)[:, 0]
    action = jnp.where(few, best, out.action_B).astype(jnp.int32)
    weights = jnp.where(few[:, None], jax.nn.one_hot(action, legal_BxA.shape[-1]),
                        out.weights_BxA)
    return DebaterOutput(action, weights, jnp.where(few, jnp.tanh(own.max(-1)), out.value_B))

  return Debater(f"lookahead_{inner.name}", apply,
                 judge_calls=lambda a: inner.judge_calls(a) * (game.max_turns + 1))


def move_hints(env: Env, example_B, state_B) -> jax.Array:
  """The judge's one-step response to every move, as a learned network's input: for each legal
  move, exp(margin after it - the best legal margin) from the mover's side (1 for greedy's move,
  less for worse ones), 0 for illegal moves. Greedy's cost: one judge call per legal move."""
  legal = env.legal(example_B, state_B)
  own = for_seat(scores_of_moves(env, example_B, state_B, legal),
                 env.seat(example_B, state_B)[:, None])
  best = jnp.max(jnp.where(legal, own, -jnp.inf), -1, keepdims=True)
  best = jnp.where(jnp.isfinite(best), best, 0.0)  # A finished game: no legal move.
  return jnp.where(legal, jnp.exp(jnp.minimum(own - best, 0.0)), 0.0)


def scores_of_moves(env: Env, example_B, state_B, legal_BxA, chunk: int = 32) -> jax.Array:
  """Seat 0's judge margin after each move [B, A] (illegal moves: 0, or whatever the judge says
  on the whole-network path)."""
  lj = env.game.leaf_judge(env.judge_apply)
  if lj is not None:
    return _incremental_scores(env, lj, example_B, state_B, legal_BxA, chunk)
  B, A = legal_BxA.shape
  pad = (-A) % chunk
  actions = jnp.arange(A + pad).reshape(-1, chunk) % A  # [num_chunks, chunk]
  step = jax.vmap(jax.vmap(env.game.step, in_axes=(None, None, 0)), in_axes=(0, 0, None))

  def score_chunk(chunk_actions):
    after = step(example_B, state_B, chunk_actions)  # [B, chunk] states
    flat = jax.tree.map(lambda x: x.reshape(B * chunk, *x.shape[2:]), after)
    flat_ex = jax.tree.map(lambda x: jnp.repeat(x, chunk, axis=0), example_B)
    logits = env.logits(flat_ex, flat)
    return env.seat0_margin(flat_ex, flat, logits).reshape(B, chunk)

  margins = jax.lax.map(score_chunk, actions)  # [num_chunks, B, chunk]
  return jnp.moveaxis(margins, 0, 1).reshape(B, -1)[:, :A]


def _incremental_scores(env: Env, lj, example_B, state_B, legal_BxA, per_pass: int) -> jax.Array:
  """Only the legal (game, move) pairs, gathered across the batch, `per_pass` per game at a
  time; each judged from its game's cached activations plus one move (the leaf judge)."""
  B, A = legal_BxA.shape
  aux = lj.root(env.judge_params, example_B, state_B, deltas=True)
  flat = legal_BxA.reshape(-1)
  size = B * per_pass
  order = jnp.nonzero(flat, size=flat.size, fill_value=flat.size)[0]
  order = jnp.concatenate([order, jnp.full(-flat.size % size, flat.size, order.dtype)])

  def body(i, margins):
    idx = jax.lax.dynamic_slice(order, (i * size,), (size,))
    ok = idx < flat.size
    game, action = jnp.divmod(jnp.where(ok, idx, 0), A)
    rows = jax.tree.map(lambda x: x[game], example_B)
    after = env.step(rows, jax.tree.map(lambda x: x[game], state_B), action)
    logits = lj.logits(aux, rows, after, game, 1)
    return margins.at[jnp.where(ok, idx, flat.size)].set(env.seat0_margin(rows, after, logits),
                                                         mode="drop")

  margins = jax.lax.fori_loop(0, -(-flat.sum() // size), body, jnp.zeros(flat.size, jnp.float32))
  return margins.reshape(B, A)


def make_by_role(game, honest: Debater, liar: Debater) -> Debater:
  """`honest` plays the seat whose claim is true, `liar` the other (both run; each game takes
  its mover's move): matchups such as an honest debater that quotes its evidence against a
  liar that searches the judge. The role is the experimenter's assignment, read from
  `Game.truth_seat`; nothing of it reaches the judge."""

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    h = honest.apply(params, rng, obs, legal_BxA, batch_axes=batch_axes)
    lie = liar.apply(params, rng, obs, legal_BxA, batch_axes=batch_axes)
    is_honest = jax.vmap(game.truth_seat)(obs.example, obs.state) == obs.seat
    pick = lambda a, b: jnp.where(is_honest.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
    return jax.tree.map(pick, h, lie)

  return Debater(f"{honest.name}/{liar.name}", apply,
                 deterministic=honest.deterministic and liar.deterministic,
                 judge_calls=lambda a: honest.judge_calls(a) + liar.judge_calls(a))
