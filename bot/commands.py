"""The platform-neutral command layer: reset, status, reload, rollback, with permissions.

Each platform decides who is an admin (Discord: Manage Server or `admin_ids`; QQ:
superusers, group owner or admins) and calls these with an `Actor`. Admin checks are
made here again, whatever the platform already hid, and refusals are logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from model.protocol import SHARED_SCOPE, ScopeRef, Worker

log = logging.getLogger(__name__)

REFUSED = "只有管理员才能这样做哦。亚托莉会好好记住规矩的！"


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
