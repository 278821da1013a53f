"""Tasks: examples with a ground truth, turned into games with claims for self-play."""
