"""Batched tree search over any `debate.games.base.Game`: mctx's tree and PUCT (`mcts.py`), with
pluggable leaf evaluators and priors (`evaluators.py`)."""
