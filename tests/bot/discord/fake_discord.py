"""A small fake of Discord on loopback, for the real discord.py client.

It serves what the adapter uses and nothing more: REST under `/api/v10` (login,
application info, `/gateway/bot`, one guild member, command bulk overwrite, create
message, typing, interaction callback and follow-ups) and a gateway WebSocket (hello, heartbeat ack,
identify → READY and GUILD_CREATE, then whatever events a test dispatches). Frames are
zlib-stream compressed as discord.py asks (one compressor per connection, a sync flush
per message). Every REST call is recorded so a test can assert on what the client sent.

The world is one server with two text channels, a thread, and the other kinds of
channel a server has (a forum and a media channel with a post each, a voice and a stage
channel with their text chat, an announcement channel with its thread), the bot, an admin
(Manage Server through a role), a member and another bot. Threads can be archived or
locked (`update_thread`); a post in a locked one is refused as Discord refuses it. A
session can be ended (`new_session`: the client identifies again).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
HEARTBEAT_INTERVAL_MS = 41_250
# When the members joined and the thread was last archived: long before any message.
TIMESTAMP = "2026-01-01T00:00:00.000000+00:00"
DISCORD_EPOCH_MS = 1_420_070_400_000
# A snowflake's lower bits (worker, process, increment); the rest is its time in ms.
SNOWFLAKE_TIME_SHIFT = 22
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_MESSAGES_IN_THREADS = 1 << 38
MANAGE_THREADS = 1 << 34
READ_MESSAGE_HISTORY = 1 << 16
EPHEMERAL = 1 << 6

APPLICATION_ID = 900_000_000_000_000_001
BOT_ID = 900_000_000_000_000_001
GUILD_ID = 910_000_000_000_000_001
CHANNEL_ID = 920_000_000_000_000_001
LISTEN_CHANNEL_ID = 920_000_000_000_000_002
THREAD_ID = 920_000_000_000_000_003  # a public thread of CHANNEL_ID
FORUM_ID = 920_000_000_000_000_004  # a forum (type 15): threads only, its posts
FORUM_POST_ID = 920_000_000_000_000_005  # a post of FORUM_ID (a public thread)
MEDIA_ID = 920_000_000_000_000_006  # a media channel (type 16): as a forum
MEDIA_POST_ID = 920_000_000_000_000_007
VOICE_ID = 920_000_000_000_000_008  # a voice channel (type 2), with its text chat
STAGE_ID = 920_000_000_000_000_009  # a stage channel (type 13), with its text chat
NEWS_ID = 920_000_000_000_000_010  # an announcement channel (type 5)
NEWS_THREAD_ID = 920_000_000_000_000_011  # an announcement thread (type 10) of NEWS_ID
ADMIN_ROLE_ID = 930_000_000_000_000_001
# The role Discord makes for a bot when it joins (managed, tagged with the bot's id).
BOT_ROLE_ID = 930_000_000_000_000_002
# A role with no permissions of its own (what `[discord] admin_roles` can name).
MOD_ROLE_ID = 930_000_000_000_000_003
ADMIN_ID = 940_000_000_000_000_001
MEMBER_ID = 940_000_000_000_000_002
OTHER_BOT_ID = 940_000_000_000_000_003
OWNER_ID = 940_000_000_000_000_004
DM_CHANNEL_ID = 950_000_000_000_000_001


# What Discord answers a post in a channel the bot may no longer send to.
MISSING_PERMISSIONS = object()
# What it answers a post in a locked thread from one without Manage Threads.
THREAD_LOCKED = object()
# What it answers a post in a forum or media channel itself (only its posts take messages).
WRONG_CHANNEL_TYPE = object()
# What it answers a reply (a post quoting a message) where the bot may not read the
# channel's history.
NO_HISTORY_TO_REPLY_IN = object()


# Discord's answer to a post in a channel names its rate-limit bucket: 5 messages per 5 s,
# here never used up. Without these headers discord.py sends one request per route at a
# time, which would hide what a client does with several in flight.
MESSAGE_BUCKET = {
    "X-RateLimit-Limit": "5",
    "X-RateLimit-Remaining": "4",
    "X-RateLimit-Reset-After": "5.000",
    "X-RateLimit-Bucket": "channel-messages",
}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses a body as JSON only for exactly "application/json" (no charset).
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


@dataclass
class Call:
    """One REST request the client made."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


def snowflake_time(snowflake: int) -> str:
    """The ISO 8601 time a snowflake was made at, as Discord writes a message's."""
    ms = (snowflake >> SNOWFLAKE_TIME_SHIFT) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="microseconds")


def user_payload(user_id: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def role_payload(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel_payload(
    channel_id: int, name: str, position: int, denied_to_bot: int = 0, kind: int = 0
) -> dict[str, Any]:
    """`denied_to_bot`: permissions a member overwrite denies the bot in this channel.
    `kind`: Discord's channel type (0 text, 2 voice, 5 announcement, 13 stage, 15 forum,
    16 media), with the fields Discord sends for it."""
    overwrites = [{"id": str(BOT_ID), "type": 1, "allow": "0", "deny": str(denied_to_bot)}]
    extra: dict[str, Any] = {}
    if kind in (2, 13):
        extra = {"bitrate": 64000, "user_limit": 0, "rtc_region": None, "video_quality_mode": 1}
    elif kind in (15, 16):
        extra = {
            "available_tags": [],
            "default_reaction_emoji": None,
            "default_thread_rate_limit_per_user": 0,
            "default_sort_order": None,
            "default_forum_layout": 0,
        }
    return extra | {
        "id": str(channel_id),
        "type": kind,
        "guild_id": str(GUILD_ID),
        "name": name,
        "position": position,
        "permission_overwrites": overwrites if denied_to_bot else [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def thread_payload(
    thread_id: int,
    parent_id: int,
    name: str,
    kind: int = 11,
    archived: bool = False,
    locked: bool = False,
) -> dict[str, Any]:
    """A thread (`kind` 11 public, 10 announcement), archived or locked as a moderator
    left it."""
    return {
        "id": str(thread_id),
        "type": kind,
        "guild_id": str(GUILD_ID),
        "parent_id": str(parent_id),
        "owner_id": str(ADMIN_ID),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": archived,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": locked,
        },
    }


# The server's channels (not threads): name and Discord's channel type.
CHANNELS: dict[int, tuple[str, int]] = {
    CHANNEL_ID: ("general", 0),
    LISTEN_CHANNEL_ID: ("atri-chat", 0),
    FORUM_ID: ("问答", 15),
    MEDIA_ID: ("相册", 16),
    VOICE_ID: ("语音闲聊", 2),
    STAGE_ID: ("舞台", 13),
    NEWS_ID: ("公告", 5),
}
# Channel types that hold threads only (forum, media): no message is posted in them.
THREADS_ONLY = {15, 16}


@dataclass
class _Person:
    user: dict[str, Any]
    roles: list[int] = field(default_factory=list)

    def member(self, with_user: bool = False, permissions: int = 0) -> dict[str, Any]:
        member: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
        }
        if with_user:
            member["user"] = self.user
        if permissions:
            member["permissions"] = str(permissions)
        return member


class _Connection:
    """One gateway WebSocket, with its zlib stream when the client asked for one."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.compressor = zlib.compressobj() if compress else None
        self.sequence = 0

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload)
        if self.compressor is None:
            await self.ws.send_str(data)
            return
        frame = self.compressor.compress(data.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        await self.ws.send_bytes(frame)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.sequence += 1
        await self.send({"op": 0, "t": event, "s": self.sequence, "d": data})


class FakeDiscord:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.identify: dict[str, Any] | None = None
        # As Discord does when Message Content is not enabled in the developer portal.
        self.refuse_privileged_intents = False
        # Close codes to answer the next identifies with, as Discord does (4004: token
        # reset, 4013: invalid intents, 4000: a transient error…), one per identify.
        self.close_codes: list[int] = []
        # As Discord does for a bot in too many servers: an identify without a shard is
        # closed with 4011.
        self.require_shards = False
        # Bot messages accepted before the channel refuses more (a moderator took Send
        # Messages away mid-reply); None: never refused.
        self.messages_before_refusal: int | None = None
        # Channels where the bot lacks Read Message History: a post quoting a message
        # is refused there (a plain post is not).
        self.no_history_channels: set[int] = set()
        # Member lookups (a DM author's roles) refused with 403, as when Discord says nothing.
        self.member_lookups_refused = False
        # Channel lookups (`GET /channels/{id}`) refused with 403 likewise.
        self.channel_lookups_refused = False
        # Seconds Discord takes to accept each message ATRI posts (a slow network).
        self.message_seconds = 0.0
        # Seconds a channel lookup's answer takes to arrive, as Discord gave it when
        # asked (a thread changed meanwhile reaches the client as it was).
        self.channel_lookup_seconds = 0.0
        # When a moderator's timeout of the bot ends (ISO 8601), as the server tells it.
        self.bot_timed_out_until: str | None = None
        # Permissions the bot is denied per channel (a member overwrite); a thread has its
        # parent's.
        self.denied_to_bot: dict[int, int] = {}
        # Whether the bot's role holds Manage Threads (it may post in a locked thread).
        self.bot_manages_threads = False
        # The server's threads as they are now (`update_thread`), by id.
        self.threads: dict[int, dict[str, Any]] = {
            THREAD_ID: thread_payload(THREAD_ID, CHANNEL_ID, "雨天"),
            FORUM_POST_ID: thread_payload(FORUM_POST_ID, FORUM_ID, "螃蟹怎么养"),
            MEDIA_POST_ID: thread_payload(MEDIA_POST_ID, MEDIA_ID, "海边的照片"),
            NEWS_THREAD_ID: thread_payload(NEWS_THREAD_ID, NEWS_ID, "维护说明", kind=10),
        }
        self.bot = user_payload(BOT_ID, "ATRI", bot=True)
        self.people = {
            ADMIN_ID: _Person(user_payload(ADMIN_ID, "Minamo"), [ADMIN_ROLE_ID]),
            MEMBER_ID: _Person(user_payload(MEMBER_ID, "Ryuji")),
            OTHER_BOT_ID: _Person(user_payload(OTHER_BOT_ID, "OtherBot", bot=True)),
            BOT_ID: _Person(self.bot, [BOT_ROLE_ID]),
        }
        self._last_id = 0
        self._changed = asyncio.Condition()
        self._connection: _Connection | None = None
        self._connected = asyncio.Event()
        # Gateway sessions begun (READY sent), the first and each after `new_session`.
        self.sessions = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    def next_id(self) -> int:
        """A snowflake of now, as Discord's are: its time is when it was made (a message's
        `timestamp` says the same), and each is larger than the one before. A fixed time
        made a room line heard after a reset older than the reset, and so hidden."""
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << SNOWFLAKE_TIME_SHIFT
        self._last_id = max(now, self._last_id + 1)
        return self._last_id

    def add_person(self, user_id: int, name: str) -> None:
        """Another member of the server (two may share a name)."""
        self.people[user_id] = _Person(user_payload(user_id, name))

    # -- server lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- gateway ------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws, request.query.get("compress") == "zlib-stream")
        await connection.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            if payload["op"] == 1:  # heartbeat
                await connection.send({"op": 11})
            elif payload["op"] == 2:  # identify
                self.identify = payload["d"]
                if self.refuse_privileged_intents:
                    await ws.close(code=4014)  # "Disallowed intent(s)"
                    break
                if self.close_codes:
                    await ws.close(code=self.close_codes.pop(0))
                    break
                if self.require_shards and "shard" not in payload["d"]:
                    await ws.close(code=4011)  # "Sharding required"
                    break
                await connection.dispatch("READY", self._ready())
                await connection.dispatch("GUILD_CREATE", self._guild())
                self._connection = connection
                async with self._changed:
                    self.sessions += 1
                    self._changed.notify_all()
                self._connected.set()
        return ws

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot,
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "shard": [0, 1],
            "application": {"id": str(APPLICATION_ID), "flags": 0},
        }

    def _guild(self) -> dict[str, Any]:
        return {
            "id": str(GUILD_ID),
            "name": "Eden",
            "icon": None,
            "owner_id": str(OWNER_ID),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [
                role_payload(
                    GUILD_ID,
                    "@everyone",
                    VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS,
                    0,
                ),
                role_payload(ADMIN_ROLE_ID, "admins", SEND_MESSAGES | MANAGE_GUILD, 1),
                role_payload(MOD_ROLE_ID, "moderators", SEND_MESSAGES, 1),
                role_payload(
                    BOT_ROLE_ID,
                    "ATRI",
                    SEND_MESSAGES | (MANAGE_THREADS if self.bot_manages_threads else 0),
                    2,
                )
                | {"managed": True, "tags": {"bot_id": str(BOT_ID)}},
            ],
            "emojis": [],
            "stickers": [],
            "channels": [self.channel_payload(channel_id) for channel_id in CHANNELS],
            # Discord sends the active threads only.
            "threads": [t for t in self.threads.values() if not t["thread_metadata"]["archived"]],
            "members": [self.bot_member()],
            "member_count": 5,
            "large": False,
            "unavailable": False,
            "joined_at": TIMESTAMP,
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_progress_bar_enabled": False,
        }

    def channel_payload(self, channel_id: int) -> dict[str, Any]:
        """A channel of the server (not a thread) as Discord sends it now."""
        name, kind = CHANNELS[channel_id]
        position = list(CHANNELS).index(channel_id)
        denied = self.denied_to_bot.get(channel_id, 0)
        return text_channel_payload(channel_id, name, position, denied, kind)

    async def create_thread(self, parent_id: int, name: str, announce: bool = True) -> int:
        """A member starts a thread (a post, in a forum) in `parent_id`; its id. Discord
        sends THREAD_CREATE for it, unless `announce` is False (its first message then
        comes before the client knows it)."""
        thread_id = self.next_id()
        self.threads[thread_id] = thread_payload(thread_id, parent_id, name)
        if announce:
            await self.dispatch("THREAD_CREATE", self.threads[thread_id] | {"newly_created": True})
        return thread_id

    async def update_thread(
        self, thread_id: int, *, archived: bool | None = None, locked: bool | None = None
    ) -> None:
        """A moderator archives, locks or reopens a thread (THREAD_UPDATE)."""
        metadata = self.threads[thread_id]["thread_metadata"]
        if archived is not None:
            metadata["archived"] = archived
        if locked is not None:
            metadata["locked"] = locked
        await self.dispatch("THREAD_UPDATE", self.threads[thread_id])

    def bot_member(self) -> dict[str, Any]:
        member = self.people[BOT_ID].member(with_user=True)
        member["communication_disabled_until"] = self.bot_timed_out_until
        return member

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._connection is not None, "no client is connected to the fake gateway"
        await self._connection.dispatch(event, data)

    async def new_session(self, timeout: float = 10.0) -> None:
        """Discord ends the session (INVALID_SESSION, not resumable): the client identifies
        again and gets a fresh READY, the events in between lost. Returns once it has."""
        assert self._connection is not None, "no client is connected to the fake gateway"
        sessions = self.sessions
        await self._connection.send({"op": 9, "d": False})
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self.sessions > sessions), timeout
            )

    # -- events a test sends ------------------------------------------------------

    def message_payload(
        self,
        author_id: int,
        content: str,
        *,
        channel_id: int = CHANNEL_ID,
        in_guild: bool = True,
        mentions: tuple[int, ...] = (),
        role_mentions: tuple[int, ...] = (),
        reply_to: dict[str, Any] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        sticker_items: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        author = self.people[author_id]
        message_id = self.next_id()
        payload: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id if in_guild else DM_CHANNEL_ID),
            "author": author.user,
            "content": content,
            "timestamp": snowflake_time(message_id),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": "@everyone" in content,
            "mentions": [self.people[m].user for m in mentions],
            "mention_roles": [str(r) for r in role_mentions],
            "attachments": attachments or [],
            "embeds": [],
            "pinned": False,
            "type": 19 if reply_to else 0,
            "flags": 0,
            "components": [],
        }
        if sticker_items:
            payload["sticker_items"] = sticker_items
        if in_guild:
            payload["guild_id"] = str(GUILD_ID)
            payload["member"] = author.member()
        if reply_to is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
                "guild_id": reply_to.get("guild_id"),
            }
            payload["referenced_message"] = reply_to
        return payload

    async def send_message(self, author_id: int, content: str, **options: Any) -> dict[str, Any]:
        payload = self.message_payload(author_id, content, **options)
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def run_command(
        self,
        user_id: int,
        group: str,
        subcommand: str,
        *,
        user_option: int | None = None,
        string_options: dict[str, str] | None = None,
        in_guild: bool = True,
        guild_id: int = GUILD_ID,
        owners: dict[str, str] | None = None,
        context: int | None = None,
        channel_id: int = CHANNEL_ID,
    ) -> dict[str, Any]:
        """A member invokes `/group subcommand` (with an optional `user:` option and
        string options such as `mode:`). By default as Discord sends it for her server's
        install of the commands; `guild_id`, `owners` (`authorizing_integration_owners`)
        and `context` say otherwise, as for a command installed on a user's account and
        run in another server (that server's id, `{"1": user id}`, 0) or in a DM between
        other people (`in_guild=False`, `{"1": user id}`, 2). `channel_id`: the server
        channel or thread it is run in."""
        person = self.people[user_id]
        options: list[dict[str, Any]] = [
            {"type": 3, "name": name, "value": value}
            for name, value in (string_options or {}).items()
        ]
        resolved: dict[str, Any] = {}
        if user_option is not None:
            options.append({"type": 6, "name": "user", "value": str(user_option)})
            target = self.people[user_option]
            resolved = {
                "users": {str(user_option): target.user},
                "members": {str(user_option): target.member()} if in_guild else {},
            }
        permissions = SEND_MESSAGES | (MANAGE_GUILD if ADMIN_ROLE_ID in person.roles else 0)
        # A timed-out bot keeps only View Channel and Read Message History in the server.
        timed_out = self.bot_timed_out_until is not None and in_guild
        app_permissions = VIEW_CHANNEL | READ_MESSAGE_HISTORY if timed_out else SEND_MESSAGES
        payload: dict[str, Any] = {
            "id": str(self.next_id()),
            "application_id": str(APPLICATION_ID),
            "type": 2,
            "token": f"interaction-token-{self.next_id()}",
            "version": 1,
            "locale": "en-US",
            "app_permissions": str(app_permissions),
            "attachment_size_limit": 8_388_608,
            "entitlements": [],
            "authorizing_integration_owners": owners or {"0": str(GUILD_ID) if in_guild else "0"},
            "context": (0 if in_guild else 1) if context is None else context,
            "data": {
                "id": str(self.next_id()),
                "name": group,
                "type": 1,
                "options": [{"type": 1, "name": subcommand, "options": options}],
                "resolved": resolved,
            },
        }
        if in_guild:
            payload["data"]["guild_id"] = str(guild_id)
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["channel_id"] = str(channel_id)
            thread = self.threads.get(channel_id)
            payload["channel"] = thread if thread else self.channel_payload(channel_id)
            payload["member"] = person.member(with_user=True, permissions=permissions)
        else:
            payload["channel_id"] = str(DM_CHANNEL_ID)
            payload["channel"] = {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": []}
            payload["user"] = person.user
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    # -- REST ---------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body: Any = None
        if request.can_read_body:
            text = await request.text()
            body = json.loads(text) if text else None
        call = Call(request.method, path, dict(request.query), body)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        if request.headers.get("Authorization") != "Bot fake-token" and not path.startswith(
            ("/interactions/", "/webhooks/")
        ):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        if self.message_seconds and is_a_post(call):
            await asyncio.sleep(self.message_seconds)
        result = self._answer(call)
        if self.channel_lookup_seconds and is_channel_lookup(call):
            if isinstance(result, dict):
                result = copy.deepcopy(result)
            await asyncio.sleep(self.channel_lookup_seconds)
        if result is None:
            return _json({"message": "Unknown route", "code": 0}, status=404)
        if result == 204:
            return web.Response(status=204)
        if result is MISSING_PERMISSIONS:
            return _json({"message": "Missing Permissions", "code": 50013}, status=403)
        if result is THREAD_LOCKED:
            return _json({"message": "Thread is locked", "code": 160005}, status=403)
        if result is WRONG_CHANNEL_TYPE:
            message = "Cannot execute action on this channel type"
            return _json({"message": message, "code": 50024}, status=400)
        if result is NO_HISTORY_TO_REPLY_IN:
            message = "Cannot reply without permission to read message history"
            return _json({"message": message, "code": 160002}, status=403)
        return _json(result, headers=MESSAGE_BUCKET if is_a_post(call) else None)

    def _answer(self, call: Call) -> Any:
        method, path, body = call.method, call.path, call.body
        if (method, path) == ("GET", "/users/@me"):
            return self.bot
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return {
                "id": str(APPLICATION_ID),
                "name": "ATRI",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(OWNER_ID, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
            }
        if (method, path) == ("GET", "/gateway/bot"):
            return {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        if method == "PUT" and re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", path):
            guild = re.search(r"/guilds/(\d+)/", path)
            return [
                {
                    **command,
                    "id": str(self.next_id()),
                    "application_id": str(APPLICATION_ID),
                    "version": "1",
                    **({"guild_id": guild.group(1)} if guild else {}),
                }
                for command in body
            ]
        match = re.fullmatch(rf"/guilds/{GUILD_ID}/members/(\d+)", path)
        if method == "GET" and match:
            if self.member_lookups_refused:
                return MISSING_PERMISSIONS
            person = self.people.get(int(match.group(1)))
            return person.member(with_user=True) if person else None
        match = re.fullmatch(r"/channels/(\d+)", path)
        if method == "GET" and match:
            channel = int(match.group(1))
            if self.channel_lookups_refused:
                return MISSING_PERMISSIONS
            if channel in self.threads:
                return self.threads[channel]
            return self.channel_payload(channel) if channel in CHANNELS else None
        if method == "POST" and re.fullmatch(r"/channels/\d+/typing", path):
            return 204
        if method == "PUT" and re.fullmatch(r"/channels/\d+/messages/\d+/reactions/.+/@me", path):
            return 204
        match = re.fullmatch(r"/channels/(\d+)/messages", path)
        if method == "POST" and match:
            channel = int(match.group(1))
            if channel in CHANNELS and CHANNELS[channel][1] in THREADS_ONLY:
                return WRONG_CHANNEL_TYPE
            timed_out = self.bot_timed_out_until is not None and channel != DM_CHANNEL_ID
            if timed_out or self._denied_post(channel):
                return MISSING_PERMISSIONS
            thread = self.threads.get(channel)
            if thread is not None:
                metadata = thread["thread_metadata"]
                if metadata["locked"] and not self.bot_manages_threads:
                    return THREAD_LOCKED
                metadata["archived"] = False  # a post reopens an archived thread
            if self.messages_before_refusal is not None:
                if self.messages_before_refusal <= 0:
                    return MISSING_PERMISSIONS
                self.messages_before_refusal -= 1
            if int(match.group(1)) in self.no_history_channels and body.get("message_reference"):
                return NO_HISTORY_TO_REPLY_IN
            return self._bot_message(int(match.group(1)), body)
        # Interaction responses and follow-ups are webhooks, not the bot's posts: no
        # channel permission of hers (a timeout neither) stops them.
        match = re.fullmatch(r"/interactions/(\d+)/[^/]+/callback", path)
        if method == "POST" and match:
            return {
                "interaction": {
                    "id": match.group(1),
                    "type": 2,
                    "response_message_loading": body["type"] == 5,
                    "response_message_ephemeral": bool(
                        (body.get("data") or {}).get("flags", 0) & EPHEMERAL
                    ),
                },
                "resource": {"type": body["type"]},
            }
        if method == "POST" and re.fullmatch(r"/webhooks/\d+/[^/]+", path):
            return self._bot_message(CHANNEL_ID, body)
        return None

    def _denied_post(self, channel_id: int) -> bool:
        """Send Messages denied in a channel, Send Messages in Threads in a thread (by an
        overwrite on its parent)."""
        thread = self.threads.get(channel_id)
        if thread is None:
            return bool(self.denied_to_bot.get(channel_id, 0) & SEND_MESSAGES)
        denied = self.denied_to_bot.get(int(thread["parent_id"]), 0)
        return bool(denied & SEND_MESSAGES_IN_THREADS)

    def _bot_message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        payload = self.message_payload(BOT_ID, body.get("content", ""), channel_id=channel_id)
        payload["flags"] = body.get("flags", 0)
        if "message_reference" in body:
            payload["message_reference"] = body["message_reference"]
        return payload

    # -- assertions ---------------------------------------------------------------

    async def wait_for_calls(
        self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = 5.0
    ) -> list[Call]:
        """The first `count` recorded calls matching `predicate`, waiting for them."""

        def matching() -> list[Call]:
            return [c for c in self.calls if predicate(c)]

        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(matching()) >= count), timeout
            )
        return matching()[:count]

    def calls_matching(self, predicate: Callable[[Call], bool]) -> list[Call]:
        return [c for c in self.calls if predicate(c)]


def is_message_to(channel_id: int) -> Callable[[Call], bool]:
    return lambda c: c.method == "POST" and c.path == f"/channels/{channel_id}/messages"


def is_a_post(call: Call) -> bool:
    """A message posted in any channel."""
    return (
        call.method == "POST"
        and call.path.startswith("/channels/")
        and call.path.endswith("/messages")
    )


def is_channel_lookup(call: Call) -> bool:
    """`GET /channels/{id}`: the client asking which channel an id is."""
    return call.method == "GET" and re.fullmatch(r"/channels/\d+", call.path) is not None


def is_reaction(call: Call) -> bool:
    return call.method == "PUT" and "/reactions/" in call.path


def is_typing_in(channel_id: int) -> Callable[[Call], bool]:
    return lambda c: c.method == "POST" and c.path == f"/channels/{channel_id}/typing"


def is_callback(call: Call) -> bool:
    return call.method == "POST" and call.path.startswith("/interactions/")


def is_followup(call: Call) -> bool:
    return call.method == "POST" and call.path.startswith("/webhooks/")


def is_command_sync(call: Call) -> bool:
    return call.method == "PUT" and call.path.endswith("/commands")
