"""How much of a prompt one step reads: measured costs, shared by the engines that read
prompts a piece at a time (`local`'s step loop, `llamacpp`'s passes).

Alone, a prompt is read in pieces of about READ_PIECE_SECONDS: a whole conversation sent
to /v1 (thousands of tokens, a minute on 2 cores) read in one go held every other user,
and its own deadline, for all of it; between two pieces, requests that came meanwhile
start and rows whose caller gave up leave. Beside replies in flight, a long prompt (more
than LONG_PROMPT_TOKENS left) reads only about as long a piece each step as their own
step takes (LONG_READ_SHARE of it), so every reply goes on at about half speed rather than
waiting for it, and the prompt gets the engine to itself again once they end; a chat
turn's prompt reads the engine's own step piece. Both are sized from what a prompt token
and a step cost lately (a token costs more the later it stands, three times as much at
4,000 as at 1,000, and a larger model more): a few dozen tokens on a CPU, the engine's
largest piece on a GPU.
"""

from __future__ import annotations

READ_PIECE_SECONDS = 0.5
READ_PIECE_MIN_TOKENS = 32
LONG_PROMPT_TOKENS = 256
LONG_READ_SHARE = 1.0


class ReadCosts:
    """What a decode step of the replying rows and a prompt token cost lately (moving
    averages, seconds)."""

    WEIGHT = 0.2  # of the newest measure

    def __init__(self) -> None:
        # Until measured: a one-row step of the offline model, and half of it a token.
        self.step_s = 0.01
        self.token_s = 0.005

    def stepped(self, seconds: float) -> None:
        self.step_s += self.WEIGHT * (seconds - self.step_s)

    def read(self, tokens: int, seconds: float) -> None:
        # Pieces only: a token or two read beside replies costs about a whole step.
        if tokens >= READ_PIECE_MIN_TOKENS:
            self.token_s += self.WEIGHT * (seconds / tokens - self.token_s)

    def read_piece(self, most: int) -> int:
        """Prompt tokens one step may read while no row replies: READ_PIECE_SECONDS'
        worth, at least READ_PIECE_MIN_TOKENS, at most `most`."""
        tokens = int(READ_PIECE_SECONDS / max(self.token_s, 1e-6))
        return min(most, max(READ_PIECE_MIN_TOKENS, tokens))

    def long_share(self, most: int) -> int:
        """Prompt tokens of a long prompt that cost LONG_READ_SHARE of a step, beside
        replies (at least one, so that it always moves on; at most `most`)."""
        tokens = int(LONG_READ_SHARE * self.step_s / max(self.token_s, 1e-6))
        return max(1, min(most, tokens))
