"""AlphaZero-style self-play for any game: actors play network-guided searches against each
other (`actors.py`), positions and their targets go to a replay buffer (`replay.py`), a learner
fits the policy to the visit shares and the value to the verdict (`learner.py`), all in one
resumable loop (`loop.py`)."""
