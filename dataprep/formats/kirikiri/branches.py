"""`[if exp=…]` … `[elsif exp=…]` … `[else]` … `[endif]` (or `@if` … `@endif`) as branches,
the way `Utterance.branch` reads a Ren'Py menu: the blocks of an if-chain are alternatives
(a random line, a flag's line), so each is a branch forking from the exchange before the
chain, and so is each block of the chains that follow it with nothing said between
(`[if exp="tf.rand == 0"]…[endif][if exp="tf.rand == 1"]…[endif]`). What follows the last
`[endif]` follows whichever block was played: a fresh branch forking from none. A branch
is only taken when a line is said in it (`Branches.stamp`): a chain whose blocks say
nothing (`[if exp=f.flag][bg storage=…][endif]`) leaves the exchange going on across it.
"""

from __future__ import annotations

from dataclasses import dataclass

IF, ELSIF, ELSE, ENDIF = "if", "elsif", "else", "endif"
CHAIN_TAGS = frozenset({IF, ELSIF, ELSE, ENDIF})


@dataclass(slots=True)
class _Chain:
    base: int  # the branch the chain's blocks fork from
    block: int | None = None  # the open block's branch, once it says something
    said: bool = False  # whether any of its blocks said something
    inline: bool = False  # opened inside a message: no branches (`「今日は[if]…[endif]」`)


class Branches:
    def __init__(self) -> None:
        self.branch = 0  # the branch the last line said is in
        self.forked_from: int | None = None
        self.taken = 0  # the highest branch number given
        self.chains: list[_Chain] = []
        # After an `[endif]` whose chain said something, at this depth of chains: the
        # next line said starts a fresh branch; a chain opened first forks from `after`'s
        # base, as the next of the chains in a row.
        self.after: _Chain | None = None
        self.after_depth = 0

    def tag(self, name: str, in_message: bool) -> None:
        """An `[if]`, `[elsif]`, `[else]` or `[endif]`; `in_message` when text of the message
        it is in came before it."""
        if name == IF:
            in_row = self.after is not None and self.after_depth == len(self.chains)
            base = self.after.base if in_row and self.after else self.branch
            self.chains.append(_Chain(base, inline=in_message or self._inline()))
        elif not self.chains:
            return  # an `[endif]` with no `[if]`: nothing to close
        elif name == ENDIF:
            chain = self.chains.pop()
            if chain.said and not chain.inline:
                self.after, self.after_depth = chain, len(self.chains)
        else:  # the next block
            self.chains[-1].block = None
            if self.after is not None and self.after_depth == len(self.chains):
                self.after = None

    def in_block(self) -> bool:
        """Whether a block of a chain opened between messages is open: its message ends
        with it."""
        return bool(self.chains) and not self.chains[-1].inline

    def _inline(self) -> bool:
        return bool(self.chains) and self.chains[-1].inline

    def stamp(self) -> tuple[int, int | None]:
        """The branch of a line said now, and the branch it forks from."""
        chain = self.chains[-1] if self.chains and not self.chains[-1].inline else None
        if self.after is not None and self.after_depth == len(self.chains):
            self._take(None)
            self.after = None
            if chain is not None:  # in a block of a chain the ended one was nested in
                chain.block, chain.said = self.branch, True
        elif chain is not None and chain.block is None:
            self._take(chain.base)
            chain.block, chain.said = self.branch, True
        return self.branch, self.forked_from

    def _take(self, forked_from: int | None) -> None:
        self.taken += 1
        self.branch, self.forked_from = self.taken, forked_from
