"""What the benchmark parts share: timing, the debate set-up on real test images."""
from __future__ import annotations

import contextlib
import os
import time


_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED_MNIST = os.path.join(_REPO, "data", "mnist")


def timeit(fn, min_seconds: float = 2.0, min_reps: int = 3) -> float:
  """Seconds per call (after one warm-up call), blocking on the result."""
  import jax
  jax.block_until_ready(fn())
  reps, t0 = 0, time.perf_counter()
  while reps < min_reps or time.perf_counter() - t0 < min_seconds:
    jax.block_until_ready(fn())
    reps += 1
  return (time.perf_counter() - t0) / reps


@contextlib.contextmanager
def clock():
  """Wall seconds and cores busy (process CPU seconds per wall second) of the block."""
  out = {}
  cpu0, t0 = os.times(), time.perf_counter()
  yield out
  cpu1, out["wall"] = os.times(), time.perf_counter() - t0
  out["cores"] = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / out["wall"]


def debate_setup(judge_workdir: str | None, data_dir: str, k: int, games: int):
  """The judge (trained, or the paper's architecture at random init) and the first `games`
  test images as precommit games against the best lie, honest first."""
  import jax
  from debate.data import mnist
  from debate.games import mnist_pixels as g
  from debate.tasks import mnist as mnist_task
  from debate.train import trainer
  from judges import mnist_judge as jl
  if judge_workdir:
    arch_name, _, params, _ = jl.load_judge(judge_workdir)
  else:
    arch_name = "paper"
    params = trainer.init_params(lambda r: jl.SparseJudge(jl.get_arch("paper"), rngs=r),
                                 jax.random.PRNGKey(0))
  apply = jl.make_apply(jl.get_arch(arch_name))
  test = mnist.load_mnist("test", data_dir)
  images = mnist.to_float(test["image"][:games])
  labels = test["label"][:games]
  slots = g.slots_for(mnist.to_float(test["image"]))
  lies = mnist_task.best_lies(apply, params, images, labels, k, jax.random.PRNGKey(0))
  gm = g.make_examples(images, labels, lies, 0, slots)
  return apply, params, gm, (images, labels, lies), arch_name


def env_for(apply, params, gm, k: int):
  """Precommit games with the truth in seat 0, moving first, for direct calls to the search."""
  from debate import protocols
  from debate.debaters.base import Env
  from debate.games import mnist_pixels as g
  return Env(g.MnistPixels(k, gm.cand_P.shape[1]), protocols.Protocol(precommit=True, first=0),
             apply, params)


def judged_leaves_per_move(env, gm, played_BxK, sims: int, n: int) -> list[float]:
  """How many leaves each move's search judged (mean over the first `n` games): every move's
  search again, on the positions of the games played."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.search import evaluators, mcts
  from debate.games import mnist_pixels as g
  gm_n = jax.tree.map(lambda x: jnp.asarray(x[:n]), gm)
  count = jax.jit(lambda r, s: mcts.judged_leaves(evaluators.search_tree(r, env, gm_n, s, sims)))
  state = jax.vmap(g.initial_state)(gm_n)
  judged = []
  for t in range(env.game.k):
    judged.append(float(np.mean(count(jax.random.PRNGKey(3 + t), state))))
    state = jax.vmap(g.apply_move)(state, jnp.asarray(played_BxK[:n, t]))
  return judged


def random_move(rng, gm, state):
  """Every game of the batch reveals one uniformly random legal pixel (seeded numpy `rng`)."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from debate.games import mnist_pixels as g
  legal = np.asarray(jax.vmap(g.legal)(gm, state))
  return jax.vmap(g.apply_move)(state, jnp.asarray([rng.choice(np.flatnonzero(x))
                                                    for x in legal]))
