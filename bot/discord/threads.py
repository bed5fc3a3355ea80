"""Threads discord.py does not hold, as Discord last named them.

discord.py drops a thread from its cache when it is archived (and never held a private
one she was only now added to), so a message there comes with a bare channel id, and
`adapter.with_known_channel` asks Discord which channel it is. Asked once per thread, not
once per message: a busy old thread cost one request per message, queued under
Discord's rate limit ahead of her answers. What Discord said is kept until the gateway
says the thread changed (the client forgets it then, `AtriClient.on_raw_thread_update`
and the events after it): its locked state is never older than the last event. Her
permissions there are not kept at all: a thread reads them from its parent channel and
her roles, which discord.py keeps up to date.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import discord

# Threads remembered at most (the one unused longest forgotten first): memory stays
# bounded however many old threads people write in.
THREADS_KEPT = 500

# What Discord names a channel as (`discord.Guild.fetch_channel`).
FetchedChannel = discord.abc.GuildChannel | discord.Thread


class ForgottenThreads:
    """Threads fetched from Discord, by id, the latest used last; and the fetches under
    way, so that messages arriving together in one thread wait for one fetch."""

    def __init__(self, kept: int = THREADS_KEPT) -> None:
        self.kept = kept
        self._known: OrderedDict[int, discord.Thread] = OrderedDict()
        self._fetching: dict[int, asyncio.Task[FetchedChannel]] = {}

    def __len__(self) -> int:
        return len(self._known)

    async def channel(self, guild: discord.Guild, channel_id: int) -> FetchedChannel:
        """The channel `channel_id` of `guild`: a thread kept, or fetched from Discord
        (raises what `fetch_channel` raises). A thread kept from before a new gateway
        session (another Guild object, its parent perhaps changed) is fetched again."""
        known = self._known.get(channel_id)
        if known is not None and known.guild is guild:
            self._known.move_to_end(channel_id)
            return known
        fetching = self._fetching.get(channel_id)
        if fetching is None:
            fetching = asyncio.create_task(guild.fetch_channel(channel_id))
            self._fetching[channel_id] = fetching
            fetching.add_done_callback(lambda done: self._fetched(channel_id, done))
        # Shielded: one waiter cancelled (the client closing) leaves the others theirs.
        return await asyncio.shield(fetching)

    def _fetched(self, channel_id: int, done: asyncio.Task[FetchedChannel]) -> None:
        if self._fetching.get(channel_id) is not done:
            return  # forgotten while Discord answered: what it said may be older
        del self._fetching[channel_id]
        if done.cancelled() or done.exception() is not None:
            return  # each waiter says why; the next message asks again
        channel = done.result()
        if isinstance(channel, discord.Thread):
            self._known[channel_id] = channel
            while len(self._known) > self.kept:
                self._known.popitem(last=False)

    def forget(self, thread_id: int) -> None:
        """The gateway says the thread changed (archived, locked, reopened) or is gone."""
        self._known.pop(thread_id, None)
        self._fetching.pop(thread_id, None)

    def forget_threads_of(self, parent_id: int) -> None:
        """Its channel was deleted. A fetch under way is not kept either: its parent is
        not known before it ends."""
        for thread_id in [t for t, thread in self._known.items() if thread.parent_id == parent_id]:
            del self._known[thread_id]
        self._fetching.clear()

    def clear(self) -> None:
        """A new gateway session (events were missed meanwhile), or Discord resending the
        threads of channels she can see again (their updates did not reach her meanwhile)."""
        self._known.clear()
        self._fetching.clear()
