"""The platform-neutral command layer: reset, memory, status, reload, rollback, channel
modes, with permissions.

Each platform decides who is an admin (Discord: Manage Server, `admin_ids` or
`admin_roles`; QQ: superusers, group owner or admins) and calls these with an `Actor`.
Admin checks are made here again, whatever the platform already hid, and refusals are
logged. `ChannelModes` is the bots' cached view of what admins set per channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from model.protocol import SHARED_SCOPE, ChannelMode, ChannelSetting, ScopeRef, Worker

log = logging.getLogger(__name__)

REFUSED = "只有管理员才能这样做哦。亚托莉会好好记住规矩的！"
NOT_A_CHANNEL = "这个要在群里或频道里用哦。"
MODE_DONE: dict[ChannelMode, str] = {
    "off": "好的，亚托莉在这里先不说话了。管理员可以随时叫我回来。",
    "mention": "好的，在这里叫到亚托莉（@我、叫我的名字或回复我）我才回答。",
    "all": "好的，亚托莉在这里每条消息都会回答！",
}
# `/atri memory` fits one message on every platform (Discord's limit is 2,000 characters).
MEMORY_SUMMARY_CHARS = 900
MEMORY_TURNS = 6
MEMORY_TURN_CHARS = 120
NOTHING_REMEMBERED = "亚托莉还没有和你的对话记忆哦。和我说说话吧！"
NO_SUMMARY_YET = "（还没有摘要：我们的对话还都在我眼前。）"
# How long a bot trusts the channel modes it read from the worker: a change made through
# another bot process shows within this time (through this one, at once).
MODES_REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class Actor:
    platform: str
    user_id: str
    is_admin: bool
    channel_id: str = ""
    guild_id: str = ""


@dataclass(frozen=True)
class CommandResult:
    text: str
    ok: bool = True
    refused: bool = False


def _refuse(actor: Actor, action: str) -> CommandResult:
    log.warning(
        "refused %s by %s user %s in channel %s",
        action,
        actor.platform,
        actor.user_id,
        actor.channel_id,
    )
    return CommandResult(REFUSED, ok=False, refused=True)


async def reset_self(worker: Worker, actor: Actor) -> CommandResult:
    """Anyone may forget their own conversation."""
    count = await worker.reset(
        ScopeRef(
            platform=actor.platform,
            user_id=actor.user_id,
            channel_id=actor.channel_id,
            guild_id=actor.guild_id,
        )
    )
    if count == SHARED_SCOPE:
        if not actor.is_admin:
            return CommandResult(
                "这里的对话是大家共享的，只有管理员可以重置哦。", ok=False, refused=True
            )
        return await reset_channel(worker, actor)
    return CommandResult(f"好的，亚托莉把我们的对话忘掉了（{count} 条）。重新开始吧！")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def remembered(worker: Worker, actor: Actor) -> CommandResult:
    """What she remembers about the asking member: the summary and the recent turns."""
    found = await worker.remembered(
        ScopeRef(
            platform=actor.platform,
            user_id=actor.user_id,
            channel_id=actor.channel_id,
            guild_id=actor.guild_id,
        )
    )
    if not found.summary and not found.turns:
        return CommandResult(NOTHING_REMEMBERED)
    lines = ["亚托莉记得的事：", _cut(found.summary, MEMORY_SUMMARY_CHARS) or NO_SUMMARY_YET]
    if found.turns:
        lines += ["", "最近的对话："]
        for turn in found.turns[-MEMORY_TURNS:]:
            who = "你" if turn.role == "user" else (turn.display_name or "亚托莉")
            lines.append(f"{who}：{_cut(turn.content, MEMORY_TURN_CHARS)}")
    return CommandResult("\n".join(lines))


async def reset_user(worker: Worker, actor: Actor, target_user_id: str) -> CommandResult:
    if not actor.is_admin:
        return _refuse(actor, f"reset of user {target_user_id}")
    count = await worker.reset(
        ScopeRef(
            platform=actor.platform,
            user_id=target_user_id,
            channel_id=actor.channel_id,
            guild_id=actor.guild_id,
        )
    )
    log.info("%s admin %s reset user %s", actor.platform, actor.user_id, target_user_id)
    return CommandResult(f"已重置该用户的对话记忆（{max(count, 0)} 条）。")


async def reset_channel(worker: Worker, actor: Actor) -> CommandResult:
    if not actor.is_admin:
        return _refuse(actor, f"reset of channel {actor.channel_id}")
    count = await worker.reset(
        ScopeRef(platform=actor.platform, channel_id=actor.channel_id, guild_id=actor.guild_id)
    )
    log.info("%s admin %s reset channel %s", actor.platform, actor.user_id, actor.channel_id)
    return CommandResult(f"已重置这里的对话记忆（{max(count, 0)} 条）。")


async def status(worker: Worker, actor: Actor) -> CommandResult:
    s = await worker.status()
    minutes = int(s.uptime_seconds // 60)
    lines = [
        f"模型版本：{s.adapter_version or '基础模型'}",
        f"排队中：{s.queue_depth}",
        f"已运行：{minutes // 60} 小时 {minutes % 60} 分钟",
    ]
    if actor.is_admin:
        lines.append(f"引擎：{s.engine}（{s.base_model}）")
        if s.last_reload:
            lines.append(f"上次加载：{s.last_reload.get('message', '')}")
        for key, value in sorted(s.details.items()):
            lines.append(f"{key}: {value}")
    return CommandResult("\n".join(lines))


async def reload(worker: Worker, actor: Actor) -> CommandResult:
    if not actor.is_admin:
        return _refuse(actor, "reload")
    result = await worker.reload()
    return CommandResult(result.message, ok=result.ok)


async def rollback(worker: Worker, actor: Actor) -> CommandResult:
    if not actor.is_admin:
        return _refuse(actor, "rollback")
    result = await worker.rollback()
    return CommandResult(result.message, ok=result.ok)


async def set_channel_mode(worker: Worker, actor: Actor, mode: ChannelMode) -> CommandResult:
    """Turn ATRI off, on (answers when addressed) or to every message in this channel."""
    if not actor.channel_id:
        return CommandResult(NOT_A_CHANNEL, ok=False)
    if not actor.is_admin:
        return _refuse(actor, f"channel mode {mode} in {actor.channel_id}")
    await worker.set_channel_mode(
        ChannelSetting(platform=actor.platform, channel_id=actor.channel_id, mode=mode)
    )
    log.info(
        "%s admin %s set channel %s to %s", actor.platform, actor.user_id, actor.channel_id, mode
    )
    return CommandResult(MODE_DONE[mode])


class ChannelModes:
    """The channel modes of one platform as the worker stores them, read at most every
    `MODES_REFRESH_SECONDS`; while the worker cannot be read, the last ones known hold."""

    def __init__(self, worker: Worker, platform: str) -> None:
        self.worker = worker
        self.platform = platform
        self._modes: dict[str, ChannelMode] = {}
        self._read_at = -MODES_REFRESH_SECONDS
        # Messages arriving during a read wait for it, and so stay in their order.
        self._reading = asyncio.Lock()

    async def mode(self, *channel_ids: str) -> ChannelMode:
        """The mode of the first of `channel_ids` that has one (a thread, then its parent)."""
        async with self._reading:
            now = time.monotonic()
            if now - self._read_at >= MODES_REFRESH_SECONDS:
                self._read_at = now
                try:
                    self._modes = await self.worker.channel_modes(self.platform)
                except Exception as exc:
                    log.warning("%s: channel modes could not be read: %s", self.platform, exc)
        for channel_id in channel_ids:
            if channel_id in self._modes:
                return self._modes[channel_id]
        return "mention"

    def forget(self) -> None:
        """Read again at the next message (after a change made here)."""
        self._read_at = -MODES_REFRESH_SECONDS
