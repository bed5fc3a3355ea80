"""What the bots themselves say (command answers, refusals, notices, the notes put into her
prompt), in the language she is served in (`[persona] language`) and with her name in
it: a card for someone else makes the bots speak of her, not of ATRI, and an English
ATRI's chats get English lines naming "ATRI", never Chinese ones naming 亚托莉.

`atri serve` calls `use_card` once; a separate worker's own character, once learned,
wins (`use_character`, see `bot.relay.speak_as_the_worker`). A bot started with neither
(NoneBot on its own before its worker answers, tests) speaks as ATRI's card does, in
Chinese. Her replies come from the model, not from here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace

from atri.config import BotSettings, Settings
from model.adapters.versions import is_version_name
from model.character.persona import (
    Persona,
    configured_card_path,
    configured_persona,
    load_persona,
)
from model.protocol import REASON_CODES, ChannelMode, ReloadResult

# The command the lines show when no config names one (`[bot] command_name`).
DEFAULT_COMMAND = BotSettings().command_name
# Reasons that say only that a version's files failed a check or its load failed: the
# worker's sentence, which names what, follows them.
QUOTED_REASONS = frozenset({"invalid", "load_error"})


@dataclass(frozen=True)
class BotLines:
    name: str  # hers, from the card
    refused: str
    owners_only: str  # reload and rollback, refused to a server's or group's own admin
    qq_owners_only: str  # the same on QQ (`owners_only_in`): groups, no servers
    not_a_channel: str
    group_only: str
    shared_reset_refused: str
    # An admin's own reset (or the reset keyword) where all share one conversation: kept,
    # naming the command that resets the whole channel or group ({how}).
    shared_reset_by_admin: str  # {how}
    # An admin's reset of one member where all share one conversation: kept; only their
    # room lines here go.
    shared_user_reset: str
    # A server's or group's admin resetting a member whose conversation is one for every
    # server, group and DM (`[memory] scope = "user"`): kept, with why.
    personal_user_reset: str
    # The same on QQ (`personal_reset`): groups and private chats, no servers.
    qq_personal_user_reset: str
    # A member's reset is an archive: she stops using the conversation, the database
    # keeps it; `/atri forget` (`forget_ask`, `forget_done`) deletes.
    reset_done: str  # {count}
    # A member with no conversation of their own whose words are in one a {place} shares
    # (`[memory] scope = "channel"`, asked in private): their reset and their memory view.
    shared_only_reset: str  # {place}
    shared_only_remembered: str  # {place}
    place_group: str  # {place} on QQ
    place_channel: str  # {place} on Discord
    # `/atri forget`: what a purge of the person's key deletes (`memory.purge`), asked
    # before ({how}: the confirming command) and said after. {place}: the platform.
    forget_ask: str  # {place} {how}
    forget_done: str  # {place} {count}
    # `/atri forget @someone`: forget is always the asker's own (it purged the asker).
    forget_own_only: str
    user_reset_done: str  # {count}
    channel_reset_done: str  # {count}
    mode_off: str
    mode_mention: str  # QQ's, where her name calls her too
    # Discord's: there only an @mention or a reply calls her (`bot.discord.adapter.is_addressed`).
    discord_mode_mention: str
    mode_all: str
    nothing_remembered: str
    remembered: str
    no_summary_yet: str
    recent_turns: str
    you: str
    status_version: str  # {version}
    base_model: str
    status_queue: str  # {depth}
    status_uptime: str  # {hours} {minutes}
    status_engine: str  # {engine} {base}
    status_reload: str  # {message}
    # `/atri status` where she cannot post (`bot.commands.CannotPost`): the place asked
    # in, why; the other places an admin is told of, one "place — why" a line, the rest
    # counted. Each `blocked_*` is one reason; {ends}: a time as the platform writes it.
    cannot_post_here: str  # {reason}
    # `/atri status` where an admin turned her off (`mode_off`): the command that turns
    # her back on ({how}, `mode_on_command`).
    turned_off_here: str  # {how}
    cannot_post_elsewhere: str
    # The same, to someone asking where they are no admin, of the places they manage (a
    # QQ group's owner or admin asking in a private chat).
    cannot_post_managed: str
    cannot_post_more: str  # {count}
    blocked_timed_out: str  # {ends}
    blocked_no_send: str
    blocked_no_send_in_threads: str
    blocked_thread_locked: str
    blocked_banned: str  # {ends}: the time left (`time_left`)
    blocked_muted_whole: str
    blocked_refused: str
    qq_group: str  # {group}
    qq_group_of_account: str  # {group} {account}: a group quiet for another of her accounts
    minutes_left: str  # {minutes}
    hours_left: str  # {hours} {minutes}
    # A reload's or rollback's answer (`reload_said`). A version is named by
    # `version_named`, or `base_model`; `reason` is one of the `reason_*` sentences below
    # (the worker's `reason_code`), each ending as a sentence ends.
    version_named: str  # {version}
    reload_switched: str  # {version} {previous}
    reload_rolled_back: str  # {version} {previous}
    reload_already: str  # {version}
    reload_refused: str  # {version} {reason} {live}
    # A reload naming something that is no version name at all ("最新的"): said as such,
    # not as a version failing the worker's checks, with where the versions are listed.
    reload_not_a_version: str  # {version} (as given) {live}
    # After a switch or "already": the newer version it passed over (`skipped`), and why.
    reload_passed_over: str  # {version} {reason}
    # {folder} {reason}: the reason names peft folders there without a manifest, or is "".
    reload_no_version: str
    reason_other_character: str  # {trained_as} {serves}
    reason_other_base: str  # {trained_on} {running}
    reason_other_config: str  # {recorded} {loaded}
    reason_other_template: str
    reason_eval_missing: str  # {path}
    reason_ooc_worse: str  # {rate} {against} {against_rate} {margin}
    reason_smoke_empty: str
    reason_engine_unavailable: str
    reason_conflict: str
    reason_unwritten: str
    # Its files failed a check, loading it raised, or a code not known here: the
    # worker's own sentence follows on a line of its own (`worker_said`).
    reason_invalid: str
    reason_load_error: str
    reason_bare_folders: str  # {folders} {count}
    reason_rolled_back: str
    worker_said: str  # {text}: the worker's English sentence, set apart from hers
    reload_nothing_older: str
    reload_no_adapters: str  # {engine}
    # Fixed, naming the setting: the bot's sentence for why (English, the worker's
    # address in it) goes to the log only.
    reload_unreachable: str
    discord_details: str  # {latency} {servers}
    failed: str
    # A command her memory database could not serve (damaged, a full disk, busy).
    memory_unavailable: str
    command_not_understood: str
    not_listed: str  # a slash command from someone [discord]'s lists shut out
    # `/atri-admin` delivered in a DM with her (a stale menu entry): no server to manage.
    admin_in_servers_only: str
    media_only: str
    # A QQ voice message alone, a video alone: what media_only says of pictures.
    voice_only: str
    video_only: str
    # One person's share of a shared channel's replies is used up (`ReplyCap.share_notice`).
    share_used_up: str
    # A message longer than `bot.limits.MAX_INPUT_CHARS`: only its start reaches her.
    input_cut: str  # {count}: the characters read
    # Put into her prompt in the user's words' place: what the model cannot see.
    sticker_note: str  # {sticker}
    attachment_note: str  # {filename}
    picture_note: str  # a QQ picture beside words
    poke_note: str  # a QQ poke of her (戳一戳): all she is told of it
    # A quoted message before the words (`bot.quoting`): someone's, or her own.
    quote_note: str  # {who} {text}
    own_quote_note: str  # {text}
    # What is stored in their place: whose message it quoted, not its words.
    quote_mark: str  # {who}
    own_quote_mark: str
    poll_note: str  # {question} {answers}: a Discord poll
    # A forwarded QQ chat record (合并转发): one "name: text" a line, or unread when only
    # its id came; her answer when such a record is all a message holds.
    forward_note: str  # {record}
    forward_unread_note: str
    forward_unread: str
    face_note: str  # a QQ face no table names
    # What else a QQ message carries that the model cannot see or hear (`bot.qq.segments`).
    emoticon_note: str  # {sticker}: a QQ sticker (动画表情, 商城表情) by the name QQ shows
    voice_note: str
    video_note: str
    card_note: str  # {title}: a shared card's (mini-app, link, music) visible words
    card_unread_note: str
    location_note: str  # {place}
    dice_note: str  # {result}
    dice_unread_note: str
    rps_note: str  # {hand}
    rps_unread_note: str
    rps_hands: str  # rock, scissors and paper, in that order, a blank between them
    memory_sent_privately: str
    memory_not_sent: str
    qq_usage: str
    # What resets one's memory on QQ besides `/{command} reset`, said alone: a word of
    # her language, not renamed by `[bot] command_name`; the Chinese one always works.
    qq_reset_keyword: str
    qq_plugin: str  # the NoneBot plugin's description
    # Discord's slash-command menu: Discord takes at most 100 characters for each.
    slash_atri: str
    slash_reset: str
    slash_forget: str
    slash_forget_confirm: str
    slash_memory: str
    slash_status: str
    slash_admin: str
    slash_channel: str
    slash_channel_mode: str
    slash_channel_target: str
    mode_set_for: str  # {channel}: after a mode's answer, for a channel named by channel:
    slash_mode_off: str
    slash_mode_mention: str
    slash_mode_all: str
    slash_reset_user: str
    slash_reset_user_member: str
    slash_reset_channel: str
    slash_reload: str
    slash_reload_version: str
    slash_rollback: str

    def time_left(self, seconds: float) -> str:
        """`seconds` to come, in whole minutes (rounded up: never "0 minutes" left)."""
        minutes = max(1, math.ceil(seconds / 60))
        if minutes < 60:
            return self.minutes_left.format(minutes=minutes)
        return self.hours_left.format(hours=minutes // 60, minutes=minutes % 60)

    def mode_done(self, mode: ChannelMode, platform: str = "") -> str:
        """What an admin is told on setting `mode`: on Discord, "mention" promises no
        answer to her name, which does not call her there."""
        if mode == "mention" and platform == "discord":
            return self.discord_mode_mention
        return {"off": self.mode_off, "mention": self.mode_mention, "all": self.mode_all}[mode]

    def not_in_a_channel(self, platform: str) -> str:
        """A channel's command asked in a private chat: QQ has groups, not channels."""
        return self.group_only if platform == "qq" else self.not_a_channel

    def owners_only_in(self, platform: str) -> str:
        """`owners_only` in the platform's words: QQ has groups, not servers."""
        return self.qq_owners_only if platform == "qq" else self.owners_only

    def personal_reset(self, platform: str) -> str:
        """`personal_user_reset` in the platform's words: QQ has groups, not servers."""
        return self.qq_personal_user_reset if platform == "qq" else self.personal_user_reset

    def shared_place(self, platform: str) -> str:
        """Where a conversation everyone shares is kept: a QQ group, a Discord channel."""
        return self.place_group if platform == "qq" else self.place_channel

    def reload_said(self, result: ReloadResult) -> str:
        """A reload's or rollback's answer in these lines' language; the worker's own
        (English) sentence when it says what happened in no way known here. A refusal's
        reason is worded from its code; the worker's sentence stands on a line of its
        own after one whose code says only that something failed (its files, a load),
        or that these lines do not know (a worker older or newer)."""
        template = {
            "switched": self.reload_switched,
            "rolled_back": self.reload_rolled_back,
            "already_serving": self.reload_already,
            "refused": self.reload_refused,
            "no_version": self.reload_no_version,
            "nothing_older": self.reload_nothing_older,
            "no_adapters": self.reload_no_adapters,
            "unreachable": self.reload_unreachable,
        }.get(result.code)
        if template is None:
            return result.message
        if _not_a_version_name(result):
            return self.reload_not_a_version.format(
                version=result.version, live=self.named(result.adapter_version)
            )
        reason, worker_words = self._reason(result)
        said = template.format(
            version=self.named(result.version),
            previous=self.named(result.previous),
            live=self.named(result.adapter_version),
            reason=reason,
            engine=result.engine,
            folder=result.folder,
        ).rstrip()  # a line ending in an empty {reason}
        if worker_words:
            said += "\n" + self.worker_said.format(text=worker_words)
        if result.skipped and result.code in ("switched", "already_serving"):
            said += "\n" + self._passed_over(result)
        return said

    def _passed_over(self, result: ReloadResult) -> str:
        """The newer version a reload passed over, and why (its reason's code)."""
        reason, worker_words = self._why(result, refusal=True)
        said = self.reload_passed_over.format(version=self.named(result.skipped), reason=reason)
        if worker_words:
            said += "\n" + self.worker_said.format(text=worker_words)
        return said

    def _reason(self, result: ReloadResult) -> tuple[str, str]:
        """A refusal's reason in these lines' words, and the worker's sentence to show
        after them ("" when they say it all)."""
        if result.code not in ("refused", "no_version"):
            return result.reason, ""  # "unreachable": its line names no reason
        return self._why(result, refusal=result.code == "refused")

    def _why(self, result: ReloadResult, refusal: bool) -> tuple[str, str]:
        """`_reason` of a refusal (`refusal`) or of a "no_version"."""
        unknown = self.reason_invalid if refusal else ""
        if not (result.reason or result.reason_code):
            # A refusal record without its sentence (an older worker's, to a caller
            # without the token): still a refusal, not an empty reason.
            return unknown, ""
        worded = self._worded_reason(result)
        if worded is None:  # a code unknown here (a worker older or newer), or its details
            return unknown, result.reason
        return worded, result.reason if result.reason_code in QUOTED_REASONS else ""

    def _worded_reason(self, result: ReloadResult) -> str | None:
        if result.reason_code not in REASON_CODES:
            return None
        details = dict(result.reason_details)
        if "against" in details:  # a version, or "" for the base model
            details["against"] = self.named(details["against"])
        template: str = getattr(self, f"reason_{result.reason_code}")
        try:
            return template.format(**details)
        except (KeyError, IndexError, ValueError):
            return None

    def counted(self, template: str, **numbers: object) -> str:
        """`template` filled in, and where it says "1 messages" or "1 servers" (only
        English counts its nouns so), "1 message": an admin's one server read "1 servers"."""
        return _ONE_OF_MANY.sub(r"\1", template.format(**numbers))

    def named(self, version: str) -> str:
        """An adapter version as these lines name it ("" is the base model)."""
        return self.version_named.format(version=version) if version else self.base_model


def _not_a_version_name(result: ReloadResult) -> bool:
    """A reload refused because the name it was given is no version name: the worker's
    check (`is_version_name`) said so only in English, as its files failing a check."""
    return (
        result.code == "refused"
        and result.reason_code == "invalid"
        and bool(result.version)
        and not is_version_name(result.version)
    )


# "1 messages", "1 servers": a count of one before a plural the English lines use.
_ONE_OF_MANY = re.compile(r"(?<![\d.,])(1 (?:message|server|version|folder))s\b")

ZH = BotLines(
    name="{name}",
    refused="只有管理员才能这样做哦。{name}会好好记住规矩的！",
    owners_only="只有机器人的主人才能换{name}的版本哦：所有服务器和群用的是同一个版本。",
    qq_owners_only="只有机器人的主人才能换{name}的版本哦：所有群和私聊用的是同一个版本。",
    not_a_channel="这个要在群里或频道里用哦。",
    group_only="这个要在群里用哦。",
    shared_reset_refused="这里的对话是大家共享的，只有管理员可以重置哦。"
    "{name}只忘掉了在这里旁听到的你的发言；要彻底删除你自己说过的话，请用 /{command} forget。",
    shared_reset_by_admin="这里的对话是大家共享的，所以对话没有重置，{name}只忘掉了在这里旁听到的你的发言。"
    "要忘掉整个对话，请用 {{how}}。",
    shared_user_reset="这里的对话是大家共享的，没有只属于这位成员的部分，所以对话没有重置。"
    "要重置，请重置整个频道或群的对话。{name}只忘掉了在这里旁听到的这位成员的发言。",
    personal_user_reset="这位成员和{name}的对话在所有服务器、群和私聊里是同一份，"
    "所以这里的管理员不能重置它：本人可以用 /{command} reset 重置，机器人的主人也可以。"
    "{name}只忘掉了在这里旁听到的这位成员的发言。",
    qq_personal_user_reset="这位成员和{name}的对话在所有群和私聊里是同一份，"
    "所以群管理员不能重置它：本人可以用 /{command} reset 重置，超级用户也可以。"
    "{name}只忘掉了在本群旁听到的这位成员的发言。",
    reset_done="好的，{name}不会再接着我们之前的对话了（{{count}} 条）：它只是存档，没有删除，"
    "要彻底删除请用 /{command} forget。重新开始吧！",
    shared_only_reset="我们之间没有单独的对话可以重置：你说的话在{{place}}里大家共享的对话中，"
    "那份对话只有管理员能重置。要彻底删除你在那里说过的话，请用 /{command} forget。",
    shared_only_remembered="{name}和你没有单独的对话记忆：你说的话在{{place}}里大家共享的对话中"
    "（那份对话由管理员重置）。在那个{{place}}里用 /{command} memory 可以看到；"
    "要彻底删除你在那里说过的话，请用 /{command} forget。",
    place_group="群",
    place_channel="频道",
    forget_ask="这会永久删除{name}在 {{place}} 上保存的关于你的一切：你在那里的所有消息（私聊里的也一样），"
    "{name}对它们的回复，包含它们的摘要，以及{name}旁听到的你的发言（已存档的也一样）。"
    "删除后无法恢复。确定的话，请用 {{how}}。",
    forget_done="已永久删除{name}在 {{place}} 上保存的关于你的一切（{{count}} 条，"
    "包括{name}的回复和旁听到的发言），以及包含它们的摘要。",
    forget_own_only="/{command} forget 只能删除你自己的记忆，不能指定别人；什么也没有删除。"
    "要重置别人的对话，请管理员用 /{command} reset @某人。",
    user_reset_done="已重置该用户的对话记忆（{{count}} 条）。",
    channel_reset_done="已重置这里的对话记忆（{{count}} 条）。",
    mode_off="好的，{name}在这里先不说话了。管理员可以随时叫我回来。",
    mode_mention="好的，在这里叫到{name}（@我、叫我的名字或回复我）我才回答。",
    discord_mode_mention="好的，在这里叫到{name}（@我或回复我）我才回答。",
    mode_all="好的，{name}在这里每条消息都会回答！",
    mode_set_for="（这里指的是 {{channel}}。）",
    nothing_remembered="{name}还没有和你的对话记忆哦。和我说说话吧！",
    remembered="{name}记得的事：",
    no_summary_yet="（还没有摘要：我们的对话还都在我眼前。）",
    recent_turns="最近的对话：",
    you="你",
    status_version="模型版本：{{version}}",
    base_model="基础模型",
    status_queue="排队中：{{depth}}",
    status_uptime="已运行：{{hours}} 小时 {{minutes}} 分钟",
    status_engine="引擎：{{engine}}（{{base}}）",
    status_reload="上次加载：{{message}}",
    cannot_post_here="{name}现在不能在这里发言（{{reason}}），在这里叫{name}也不会回答。",
    turned_off_here="管理员在这里关闭了{name}，在这里叫{name}也不会回答。管理员用 {{how}} 可以让{name}回来。",
    cannot_post_elsewhere="{name}现在不能发言的地方：",
    cannot_post_managed="你管理的群里，{name}现在不能发言的地方：",
    cannot_post_more="……还有 {{count}} 处",
    blocked_timed_out="被管理员禁言，到 {{ends}} 结束",
    blocked_no_send="没有「发送消息」权限",
    blocked_no_send_in_threads="没有「在子区中发送消息」权限",
    blocked_thread_locked="子区已被锁定",
    blocked_banned="账号被禁言了，还剩 {{ends}}",
    blocked_muted_whole="全员禁言中",
    blocked_refused="QQ 拒绝了最近的几次发送",
    qq_group="群 {{group}}",
    qq_group_of_account="群 {{group}}（账号 {{account}}）",
    minutes_left="{{minutes}} 分钟",
    hours_left="{{hours}} 小时 {{minutes}} 分钟",
    version_named="版本 {{version}}",
    reload_switched="已换上{{version}}（之前是{{previous}}）。",
    reload_rolled_back="已退回到{{version}}（之前是{{previous}}）。",
    reload_already="现在用的已经是{{version}}了。",
    reload_passed_over="更新的{{version}}没有换上：{{reason}}",
    reload_refused="没有换上{{version}}：{{reason}}仍在使用{{live}}。",
    reload_not_a_version="没有叫「{{version}}」的版本：版本以训练的时间命名，比如 20261207-102850。"
    "在模型服务的机器上运行 atri adapters list 可以看到所有版本。仍在使用{{live}}。",
    reload_no_version="{{folder}} 里还没有完整的模型版本。{{reason}}",
    reason_other_character="这个版本是作为{{trained_as}}训练的，而这个模型服务扮演的是{{serves}}。"
    "请给每个角色设置各自的 [model] adapters_dir。",
    reason_other_base="这个版本是在另一个基础模型（{{trained_on}}）上训练的，"
    "而模型服务运行的是 {{running}}。",
    reason_other_config="这个版本训练时的基础模型配置和现在加载的不同"
    "（配置哈希 {{recorded}}，现在的是 {{loaded}}）。",
    reason_other_template="这个版本训练时用的对话模板和现在的不同。"
    "请把 [model] chat_template 改回它训练时的模板，或者重新训练。",
    reason_eval_missing="这个版本还没有可用的评估结果，而 [reload] require_eval 已打开。"
    "请运行 atri eval {{path}}，写好后会再试一次。",
    reason_ooc_worse="这个版本在评估中有 {{rate}} 的回复出戏，{{against}}是 {{against_rate}}，"
    "比允许的 {{margin}} 差得更多。",
    reason_smoke_empty="试运行没有生成任何文字。",
    reason_engine_unavailable="模型服务器现在没有响应，下次检查时会再试。",
    reason_conflict="它不能和已经加载的另一个版本一起加载，问题不在它本身，重启模型服务后就能加载。",
    reason_unwritten="它的文件写不进去（磁盘可能满了），每次检查时都会再试。",
    reason_invalid="它没有通过模型服务的检查。",
    reason_load_error="加载它时出错了。",
    reason_rolled_back="管理员已经从它回滚，不点名它的重新加载不会再用它。",
    reason_bare_folders="{{folders}} 里有 peft 适配器但没有 manifest.json（共 {{count}} 个），"
    "重新加载会跳过它们。用 atri adapters adopt 检查并发布为版本"
    "（以版本命名的文件夹若是正在复制进来的版本，复制完整后会自动加载，不要 adopt）。",
    worker_said="模型服务的原话：{{text}}",
    reload_nothing_older="现在用的就是基础模型，没有可以退回的版本。",
    reload_no_adapters="{{engine}} 引擎不使用模型版本（LoRA 适配器），没有可以加载或退回的。",
    reload_unreachable="联系不上模型服务：请确认 [worker] url 指向的 atri worker 正在运行（详情见日志）。",
    discord_details="Discord：延迟 {{latency}}，{{servers}} 个服务器",
    failed="呜……{name}没能做到，请稍后再试一次吧。",
    memory_unavailable="{name}的记忆现在打不开……请稍后再试一次吧。",
    command_not_understood="{name}没看懂这个命令……请从命令菜单里重新选一次吧。",
    not_listed="{name}在这里不接受你的命令。",
    admin_in_servers_only="管理命令要在服务器里使用。",
    media_only="{name}还看不懂图片和表情呢……用文字和我说吧！",
    voice_only="{name}还听不了语音呢……用文字和我说吧！",
    video_only="{name}还看不了视频呢……用文字和我说吧！",
    share_used_up="{name}刚才已经回了你好多句啦，也让这里的大家说说话吧！过一会儿再来找我哦。",
    input_cut="你的消息太长啦，{name}只读了前 {{count}} 个字哦。",
    sticker_note="（发来了贴纸：{{sticker}}）",
    attachment_note="（发来了附件：{{filename}}）",
    picture_note="（发来了一张图片）",
    poke_note="（戳了戳你）",
    quote_note="（引用了{{who}}的消息：{{text}}）",
    own_quote_note="（引用了你说过的话：{{text}}）",
    quote_mark="（引用了{{who}}的消息）",
    own_quote_mark="（引用了你说过的话）",
    poll_note="（发起了投票：{{question}} 选项：{{answers}}）",
    forward_note="（转发了一段聊天记录：\n{{record}}\n）",
    forward_unread_note="（转发了一段聊天记录，内容看不到）",
    forward_unread="这段聊天记录{name}打不开……把想说的直接打字告诉我吧！",
    face_note="（发了一个表情）",
    emoticon_note="（发来了表情：{{sticker}}）",
    voice_note="（发来了一条语音）",
    video_note="（发来了一段视频）",
    card_note="（分享了卡片：{{title}}）",
    card_unread_note="（分享了一张卡片，内容看不到）",
    location_note="（分享了位置：{{place}}）",
    dice_note="（掷了骰子：{{result}} 点）",
    dice_unread_note="（掷了骰子）",
    rps_note="（猜拳出了{{hand}}）",
    rps_unread_note="（猜了拳）",
    rps_hands="石头 剪刀 布",
    memory_sent_privately="{name}把记得的事私信发给你了，去看看吧。",
    memory_not_sent="私信发不出去……加{name}为好友后，再在群里试一次吧。",
    qq_usage="""和{name}聊天：在群里 @{name}、以名字开头，或回复{name}的消息；私聊直接说。
/{command} reset 或 重置记忆 — 忘掉你和{name}的对话
/{command} forget — 永久删除{name}保存的关于你的一切（会先让你确认）
/{command} reset @某人 — 忘掉那个人的对话（群管理员）
/{command} reset group — 忘掉本群的对话（群管理员）
/{command} memory — {name}记得关于你的事（摘要和最近的对话；在群里会私信给你）
/{command} status — {name}现在的状态
/{command} mode off|on|all — 在本群关闭{name}、被叫到才回答、每条都回答（群管理员）
/{command} reload [版本名] — 换上最新训练的版本，或指定的版本（超级用户）
/{command} rollback — 退回上一个可用的版本（超级用户）
也可以用中文：/{command} 重置、帮助、状态、记忆、忘记，群 代替 group，关、开、全部 代替 off、on、all。""",
    qq_reset_keyword="重置记忆",
    qq_plugin="和{name}聊天（LoRA 角色模型），管理员可重置{name}的记忆",
    slash_atri="和{name}有关的命令",
    slash_reset="让{name}忘掉和你的对话",
    slash_forget="永久删除{name}保存的关于你的一切",
    slash_forget_confirm="确认删除（无法恢复）",
    slash_memory="{name}记得关于你的事：摘要和最近的对话",
    slash_status="{name}现在的状态：模型版本、排队、运行时间",
    slash_admin="管理{name}的记忆和模型（管理员）",
    slash_channel="在这个频道打开或关闭{name}，或让{name}每条都回答",
    slash_channel_mode="{name}在这个频道怎么说话",
    slash_channel_target="要设置的频道（论坛、媒体频道也可以）；不填则是这个频道",
    slash_mode_off="关闭：在这里不说话",
    slash_mode_mention="被叫到才回答（默认）",
    slash_mode_all="每条消息都回答",
    slash_reset_user="重置某位成员和{name}的对话",
    slash_reset_user_member="要重置对话的成员",
    slash_reset_channel="重置这个频道里的对话",
    slash_reload="立即检查并加载新的模型版本",
    slash_reload_version="要换上的版本名（状态里显示的那样）；不填则换上最新的",
    slash_rollback="退回上一个模型版本",
)

EN = BotLines(
    name="{name}",
    refused="Only admins can do that. {name} will keep to the rules!",
    owners_only="Only the bot's owners can switch {name}'s version: every server and group "
    "shares it.",
    qq_owners_only="Only the bot's owners can switch {name}'s version: every group and private "
    "chat shares it.",
    not_a_channel="That only works in a server channel or a group.",
    group_only="That works in a group.",
    shared_reset_refused="The conversation here is shared by everyone; only admins can reset it. "
    "Only what {name} overheard you say here was forgotten; /{command} forget deletes your own "
    "words for good.",
    shared_reset_by_admin="The conversation here is shared by everyone, so it was kept; only what "
    "{name} overheard you say here was forgotten. To forget the whole of it, use {{how}}.",
    shared_user_reset="The conversation here is shared by everyone, so no part of it is that "
    "member's alone: it was kept. To reset it, reset the whole channel or group. Only what "
    "{name} overheard them say here was forgotten.",
    personal_user_reset="That member's conversation with {name} is one for every server, "
    "group and DM, so an admin here cannot reset it: they can with /{command} reset, and so can "
    "the bot's owner. Only what {name} overheard them say here was forgotten.",
    qq_personal_user_reset="That member's conversation with {name} is one for every group and "
    "private chat, so a group admin cannot reset it: they can with /{command} reset, and so can "
    "a superuser. Only what {name} overheard them say in this group was forgotten.",
    reset_done="OK, {name} won't go on from our conversation ({{count}} messages): it is "
    "archived, not deleted; /{command} forget deletes it for good. Let's start over!",
    shared_only_reset="There is no conversation of just ours to reset: what you said is in a "
    "conversation everyone in a {{place}} shares, which only an admin resets. /{command} forget "
    "deletes your words there for good.",
    shared_only_remembered="{name} has no conversation of just yours to show: what you said is in "
    "a conversation everyone in a {{place}} shares (an admin resets it). /{command} memory in that "
    "{{place}} shows it; /{command} forget deletes your words there for good.",
    place_group="group",
    place_channel="channel",
    forget_ask="This deletes for good everything {name} keeps of you on {{place}}: all your "
    "messages there (private ones too), {name}'s replies to them, the summaries holding them, "
    "and what {name} overheard you say, archived ones too. It cannot be undone. To go ahead, use "
    "{{how}}.",
    forget_done="Deleted for good: everything {name} kept of you on {{place}} ({{count}} "
    "messages, {name}'s replies and overheard lines included), and the summaries holding it.",
    forget_own_only="/{command} forget deletes only your own memory and names no one else; "
    "nothing was deleted. To reset someone's conversation, an admin uses /{command} reset "
    "@someone.",
    user_reset_done="Reset that member's conversation ({{count}} messages).",
    channel_reset_done="Reset the conversation here ({{count}} messages).",
    mode_off="OK, {name} will stay quiet here. An admin can call me back any time.",
    mode_mention="OK, here {name} answers only when called (@me, my name, or a reply to me).",
    discord_mode_mention="OK, here {name} answers only when called (@me or a reply to me).",
    mode_all="OK, {name} will answer every message here!",
    mode_set_for="(Here means {{channel}}.)",
    nothing_remembered="{name} has no memory of a conversation with you yet. Talk to me!",
    remembered="What {name} remembers:",
    no_summary_yet="(No summary yet: our whole conversation is still in front of me.)",
    recent_turns="Recent messages:",
    you="You",
    status_version="Model version: {{version}}",
    base_model="the base model",
    status_queue="Waiting: {{depth}}",
    status_uptime="Running for: {{hours}} h {{minutes}} min",
    status_engine="Engine: {{engine}} ({{base}})",
    status_reload="Last load: {{message}}",
    cannot_post_here="{name} cannot post here now ({{reason}}): messages for {name} here are "
    "not answered.",
    turned_off_here="An admin turned {name} off here: messages for {name} here are not "
    "answered. An admin can turn {name} back on with {{how}}.",
    cannot_post_elsewhere="Where {name} cannot post now:",
    cannot_post_managed="Where {name} cannot post now, of the groups you manage:",
    cannot_post_more="…and {{count}} more",
    blocked_timed_out="timed out until {{ends}}",
    blocked_no_send="no Send Messages permission",
    blocked_no_send_in_threads="no Send Messages in Threads permission",
    blocked_thread_locked="the thread is locked",
    blocked_banned="the account is muted, {{ends}} left",
    blocked_muted_whole="the whole group is muted",
    blocked_refused="QQ refused the last sends",
    qq_group="group {{group}}",
    qq_group_of_account="group {{group}} (account {{account}})",
    minutes_left="{{minutes}} min",
    hours_left="{{hours}} h {{minutes}} min",
    version_named="adapter version {{version}}",
    reload_switched="Now serving {{version}} (was {{previous}}).",
    reload_rolled_back="Rolled back to {{version}} (was {{previous}}).",
    reload_already="Already serving {{version}}.",
    reload_passed_over="The newer {{version}} was passed over: {{reason}}",
    reload_refused="Did not switch to {{version}}: {{reason}} Still serving {{live}}.",
    reload_not_a_version='There is no version called "{{version}}": versions are named by the '
    "time they were trained, like 20261207-102850. atri adapters list on the worker's machine "
    "shows them all. Still serving {{live}}.",
    reload_no_version="No complete adapter version in {{folder}}. {{reason}}",
    reason_other_character="it was trained as {{trained_as}}, but this worker serves "
    "{{serves}}. Give each character its own [model] adapters_dir.",
    reason_other_base="it was trained on another base model ({{trained_on}}), but the worker "
    "runs {{running}}.",
    reason_other_config="it was trained on a base model of another config (hash {{recorded}}; "
    "the loaded one's is {{loaded}}).",
    reason_other_template="it was trained under another chat template than the one served "
    "now; set [model] chat_template back to its template, or train it again.",
    reason_eval_missing="it has no usable evaluation yet, and [reload] require_eval is on. "
    "Run atri eval {{path}}; it is tried again once that is written.",
    reason_ooc_worse="it breaks character in {{rate}} of its evaluation replies, {{against}} "
    "in {{against_rate}}: more than the allowed {{margin}} worse.",
    reason_smoke_empty="its smoke generation wrote no text.",
    reason_engine_unavailable="the engine's server did not answer; it is tried again at the "
    "next look.",
    reason_conflict="it cannot be loaded beside another version loaded before it, through no "
    "fault of its own; restart the worker to load it.",
    reason_unwritten="its files could not be written (a full disk?); it is tried again at "
    "each look.",
    reason_invalid="it did not pass the worker's checks.",
    reason_load_error="loading it failed.",
    reason_rolled_back="an admin rolled back from it; only a reload naming it serves it again.",
    reason_bare_folders="{{folders}} ({{count}} in all) hold a peft adapter but no "
    "manifest.json, so the reload job passes them over; atri adapters adopt checks one and "
    "publishes it as a version (one named as a version, still being copied in, is taken "
    "once complete: do not adopt it).",
    worker_said="The worker said: {{text}}",
    reload_nothing_older="Already serving the base model; nothing to roll back to.",
    reload_no_adapters="The {{engine}} engine takes no adapters: nothing to load or roll back.",
    reload_unreachable="Could not reach the worker: is `atri worker` running at [worker] url? "
    "The log says more.",
    discord_details="Discord: latency {{latency}}, {{servers}} servers",
    failed="Uu... {name} couldn't do that. Please try again in a moment.",
    memory_unavailable="{name}'s memory is unavailable right now... Please try again later.",
    command_not_understood="{name} didn't understand that command... Please pick it again "
    "from the command menu.",
    not_listed="{name} doesn't take your commands here.",
    admin_in_servers_only="Admin commands run in a server.",
    media_only="{name} can't read pictures or stickers yet... Tell me in words!",
    voice_only="{name} can't listen to voice messages yet... Tell me in words!",
    video_only="{name} can't watch videos yet... Tell me in words!",
    share_used_up="{name} has answered you a lot just now, so the others here get a turn too! "
    "Talk to me again in a minute.",
    input_cut="Your message is very long: {name} only read its first {{count}} characters.",
    sticker_note="(sent a sticker: {{sticker}})",
    attachment_note="(sent an attachment: {{filename}})",
    picture_note="(sent a picture)",
    poke_note="(pokes you)",
    quote_note="(quoting {{who}}'s message: {{text}})",
    own_quote_note="(quoting what you said: {{text}})",
    quote_mark="(quoting {{who}}'s message)",
    own_quote_mark="(quoting what you said)",
    poll_note="(started a poll: {{question}} Answers: {{answers}})",
    forward_note="(forwarded a chat record:\n{{record}}\n)",
    forward_unread_note="(forwarded a chat record that cannot be read)",
    forward_unread="{name} can't open this chat record... Tell me in words what you want to say!",
    face_note="(sent an emoji)",
    emoticon_note="(sent a sticker: {{sticker}})",
    voice_note="(sent a voice message)",
    video_note="(sent a video)",
    card_note="(shared a card: {{title}})",
    card_unread_note="(shared a card that cannot be read)",
    location_note="(shared a location: {{place}})",
    dice_note="(rolled a die: {{result}})",
    dice_unread_note="(rolled a die)",
    rps_note="(played rock-paper-scissors: {{hand}})",
    rps_unread_note="(played rock-paper-scissors)",
    rps_hands="rock scissors paper",
    memory_sent_privately="{name} sent you the memories in a private message. Have a look!",
    memory_not_sent="The private message could not be sent... Add {name} as a friend, "
    "then try again in the group.",
    qq_usage="""Chat with {name}: in a group, @ {name}, start with the name, or reply to a
message from {name}; in a private chat, just talk.
/{command} reset or reset memory — forget your conversation with {name}
/{command} forget — delete for good everything {name} keeps of you (asks first)
/{command} reset @someone — forget that person's conversation (group admins)
/{command} reset group — forget this group's conversation (group admins)
/{command} memory — what {name} remembers about you (sent privately when asked in a group)
/{command} status — how {name} is doing
/{command} mode off|on|all — quiet here, answer when called, or answer everything (group admins)
/{command} reload [version] — put the newest trained version live, or the one named (superusers)
/{command} rollback — go back to the previous usable version (superusers)""",
    qq_reset_keyword="reset memory",
    qq_plugin="Chat with {name} (a LoRA character model); admins can reset {name}'s memory",
    slash_atri="Commands about {name}",
    slash_reset="Make {name} forget your conversation",
    slash_forget="Delete for good everything {name} keeps of you",
    slash_forget_confirm="Yes, delete it (cannot be undone)",
    slash_memory="What {name} remembers about you: the summary and recent messages",
    slash_status="How {name} is doing: model version, queue, uptime",
    slash_admin="Manage {name}'s memory and model (admins)",
    slash_channel="Turn {name} on or off in this channel, or on for every message",
    slash_channel_mode="How {name} talks in this channel",
    slash_channel_target="The channel to set (a forum or media channel too); empty: this one",
    slash_mode_off="Off: quiet here",
    slash_mode_mention="Only when called (default)",
    slash_mode_all="Every message",
    slash_reset_user="Reset a member's conversation with {name}",
    slash_reset_user_member="The member whose conversation to reset",
    slash_reset_channel="Reset the conversation in this channel",
    slash_reload="Check for a new model version and load it now",
    slash_reload_version="The version to switch to, as status names it; empty: the newest",
    slash_rollback="Go back to the previous model version",
)

JA = BotLines(
    name="{name}",
    refused="それは管理者だけができることだよ。{name}、ちゃんと決まりは守るからね！",
    owners_only="{name}のバージョンを切り替えられるのはボットの持ち主だけだよ。"
    "すべてのサーバーとグループで同じバージョンを使っているからね。",
    qq_owners_only="{name}のバージョンを切り替えられるのはボットの持ち主だけだよ。"
    "すべてのグループと個別チャットで同じバージョンを使っているからね。",
    not_a_channel="これはグループかチャンネルで使ってね。",
    group_only="これはグループで使ってね。",
    shared_reset_refused="ここの会話はみんなで共有しているから、リセットできるのは管理者だけだよ。"
    "{name}がここで耳にした、あなたの発言だけを忘れたよ。"
    "あなた自身の発言を完全に消すなら /{command} forget を使ってね。",
    shared_reset_by_admin="ここの会話はみんなで共有しているので、会話はリセットしていません。"
    "{name}がここで耳にした、あなたの発言だけを忘れました。"
    "全体を忘れさせるには {{how}} を使ってください。",
    shared_user_reset="ここの会話はみんなで共有しているので、そのメンバーだけの部分はありません。"
    "会話はリセットしていません。リセットするなら、チャンネルかグループ全体をリセットしてください。"
    "{name}がここで耳にした、そのメンバーの発言だけを忘れました。",
    personal_user_reset="そのメンバーと{name}の会話はすべてのサーバー・グループ・DMで共通なので、"
    "ここの管理者はリセットできません。リセットできるのは本人（/{command} reset）とボットの持ち主です。"
    "{name}がここで耳にした、そのメンバーの発言だけを忘れました。",
    qq_personal_user_reset="そのメンバーと{name}の会話はすべてのグループと個別チャットで共通なので、"
    "グループの管理者はリセットできません。リセットできるのは本人（/{command} reset）と"
    "スーパーユーザーです。{name}がこのグループで耳にした、そのメンバーの発言だけを忘れました。",
    reset_done="わかった、{name}はもうわたしたちの会話の続きをしないよ（{{count}} 件）。"
    "削除ではなく保管だから、完全に消すなら /{command} forget を使ってね。また最初から話そう！",
    shared_only_reset="わたしたちだけの会話はないから、リセットするものはないよ。あなたの発言は"
    "{{place}}のみんなで共有している会話の中にあって、それをリセットできるのは管理者だけ。"
    "そこでのあなたの発言を完全に消すなら /{command} forget を使ってね。",
    shared_only_remembered="{name}とあなただけの会話の記憶はないよ。あなたの発言は{{place}}のみんなで"
    "共有している会話の中にあるの（リセットするのは管理者）。その{{place}}で /{command} memory を"
    "使えば見られるよ。そこでのあなたの発言を完全に消すなら /{command} forget を使ってね。",
    place_group="グループ",
    place_channel="チャンネル",
    forget_ask="これで{name}が {{place}} で保存しているあなたのすべてを完全に削除するよ。"
    "そこでのあなたのすべてのメッセージ（個別チャットのものも）、それへの{name}の返事、それを含む要約、"
    "{name}が耳にしたあなたの発言（保管済みのものも）。元には戻せないよ。よければ {{how}} を使ってね。",
    forget_done="{name}が {{place}} で保存していたあなたのすべてを完全に削除したよ（{{count}} 件、"
    "{name}の返事と耳にした発言を含む）。それを含む要約も消したよ。",
    forget_own_only="/{command} forget で消せるのはあなた自身の記憶だけで、ほかの人は指定できないよ。"
    "何も消していないよ。ほかの人の会話をリセットするなら、管理者が /{command} reset @誰か を使ってね。",
    user_reset_done="そのメンバーの会話をリセットしました（{{count}} 件）。",
    channel_reset_done="ここの会話をリセットしました（{{count}} 件）。",
    mode_off="わかった、{name}はここでは静かにしてるね。管理者はいつでも呼び戻せるよ。",
    mode_mention="わかった、ここでは呼ばれたとき（@わたし、名前、返信）だけ{name}が答えるね。",
    discord_mode_mention="わかった、ここでは呼ばれたとき（@わたしか返信）だけ{name}が答えるね。",
    mode_all="わかった、ここでは{name}が全部のメッセージに答えるよ！",
    mode_set_for="（ここというのは {{channel}} のことだよ。）",
    nothing_remembered="{name}はまだあなたとの会話を覚えていないよ。話しかけてね！",
    remembered="{name}が覚えていること：",
    no_summary_yet="（まだ要約はないよ。わたしたちの会話は、まだ全部目の前にあるから。）",
    recent_turns="最近の会話：",
    you="あなた",
    status_version="モデルのバージョン：{{version}}",
    base_model="ベースモデル",
    status_queue="待ち：{{depth}}",
    status_uptime="稼働時間：{{hours}} 時間 {{minutes}} 分",
    status_engine="エンジン：{{engine}}（{{base}}）",
    status_reload="前回の読み込み：{{message}}",
    cannot_post_here="{name}はいまここで発言できないの（{{reason}}）。ここで呼ばれても答えられないよ。",
    turned_off_here="管理者がここで{name}をオフにしたから、ここで呼ばれても答えないよ。管理者は {{how}} で戻せるよ。",
    cannot_post_elsewhere="{name}がいま発言できない場所：",
    cannot_post_managed="あなたが管理するグループで、{name}がいま発言できない場所：",
    cannot_post_more="……ほかに {{count}} か所",
    blocked_timed_out="{{ends}}までタイムアウト中",
    blocked_no_send="「メッセージを送信」の権限がない",
    blocked_no_send_in_threads="「スレッドでメッセージを送信」の権限がない",
    blocked_thread_locked="スレッドがロックされている",
    blocked_banned="アカウントが発言禁止中、残り {{ends}}",
    blocked_muted_whole="グループ全体が発言禁止中",
    blocked_refused="QQ に最近の送信を拒否された",
    qq_group="グループ {{group}}",
    qq_group_of_account="グループ {{group}}（アカウント {{account}}）",
    minutes_left="{{minutes}} 分",
    hours_left="{{hours}} 時間 {{minutes}} 分",
    version_named="バージョン {{version}}",
    reload_switched="{{version}}に切り替えました（以前は{{previous}}）。",
    reload_rolled_back="{{version}}に戻しました（以前は{{previous}}）。",
    reload_already="すでに{{version}}を使っています。",
    reload_passed_over="より新しい{{version}}は使いませんでした：{{reason}}",
    reload_refused="{{version}}には切り替えませんでした：{{reason}}引き続き{{live}}を使っています。",
    reload_not_a_version="「{{version}}」という名前のバージョンはありません。バージョンは学習した時刻で"
    "名付けられます（たとえば 20261207-102850）。ワーカーのマシンで atri adapters list を実行すると"
    "一覧が見られます。引き続き{{live}}を使っています。",
    reload_no_version="{{folder}} に完全なバージョンがありません。{{reason}}",
    reason_other_character="このバージョンは{{trained_as}}として学習されたもので、"
    "このワーカーが演じているのは{{serves}}です。キャラクターごとに [model] adapters_dir を分けてください。",
    reason_other_base="このバージョンは別のベースモデル（{{trained_on}}）で学習されたもので、"
    "ワーカーが動かしているのは {{running}} です。",
    reason_other_config="このバージョンは設定の違うベースモデルで学習されました"
    "（設定ハッシュ {{recorded}}、読み込み中のものは {{loaded}}）。",
    reason_other_template="このバージョンは今とは別のチャットテンプレートで学習されました。"
    "[model] chat_template を学習時のテンプレートに戻すか、学習し直してください。",
    reason_eval_missing="このバージョンにはまだ使える評価結果がなく、[reload] require_eval が"
    "オンになっています。atri eval {{path}} を実行してください。書き出されたらもう一度試します。",
    reason_ooc_worse="このバージョンは評価の返答の {{rate}} でキャラクターが崩れていて、"
    "{{against}}は {{against_rate}} です。許容される {{margin}} より悪くなっています。",
    reason_smoke_empty="試しの生成で何も書かれませんでした。",
    reason_engine_unavailable="エンジンのサーバーが応答しませんでした。次の確認でもう一度試します。",
    reason_conflict="先に読み込まれた別のバージョンと一緒には読み込めません。このバージョン自体に"
    "問題はないので、ワーカーを再起動すれば読み込めます。",
    reason_unwritten="ファイルを書き込めませんでした（ディスクがいっぱいかもしれません）。"
    "確認のたびにもう一度試します。",
    reason_invalid="ワーカーのチェックを通りませんでした。",
    reason_load_error="読み込み中にエラーが起きました。",
    reason_rolled_back="管理者がこのバージョンからロールバックしたので、名前を指定した再読み込みでしか使われません。",
    reason_bare_folders="{{folders}} には peft アダプターがありますが manifest.json がないので"
    "（全部で {{count}} 個）、読み込みでは飛ばされます。atri adapters adopt で確かめて"
    "バージョンとして公開できます（バージョン名のフォルダーがコピー中なら、揃えば読み込まれる"
    "ので adopt しないでください）。",
    worker_said="ワーカーの原文：{{text}}",
    reload_nothing_older="いまはベースモデルを使っているので、戻せるバージョンはありません。",
    reload_no_adapters="{{engine}} エンジンはアダプターを使わないので、読み込むものも戻すものもありません。",
    reload_unreachable="ワーカーに接続できませんでした。[worker] url の atri worker が動いているか確認してね（詳しくはログに）。",
    discord_details="Discord：遅延 {{latency}}、{{servers}} サーバー",
    failed="うう……{name}、うまくできなかった。少ししてからもう一度試してね。",
    memory_unavailable="{name}、いまは記憶を開けないみたい……あとでもう一度試してね。",
    command_not_understood="{name}、このコマンドがわからなかった……コマンドメニューから"
    "もう一度選んでね。",
    not_listed="{name}はここではあなたのコマンドを受け付けないよ。",
    admin_in_servers_only="管理コマンドはサーバーで使ってね。",
    media_only="{name}はまだ画像やスタンプが読めないの……言葉で話してね！",
    voice_only="{name}はまだボイスメッセージが聞けないの……言葉で話してね！",
    video_only="{name}はまだ動画が見られないの……言葉で話してね！",
    share_used_up="{name}、いまはあなたにたくさん答えたから、ここのみんなにも順番をあげるね！"
    "少ししたら、また話しかけて。",
    input_cut="メッセージが長すぎるから、{name}は最初の {{count}} 文字だけ読んだよ。",
    sticker_note="（スタンプを送った：{{sticker}}）",
    attachment_note="（ファイルを送った：{{filename}}）",
    picture_note="（画像を送った）",
    poke_note="（あなたをつんつんとつついた）",
    quote_note="（{{who}}のメッセージを引用：{{text}}）",
    own_quote_note="（あなたが言ったことを引用：{{text}}）",
    quote_mark="（{{who}}のメッセージを引用）",
    own_quote_mark="（あなたが言ったことを引用）",
    poll_note="（投票を作った：{{question}} 選択肢：{{answers}}）",
    forward_note="（チャット履歴を転送した：\n{{record}}\n）",
    forward_unread_note="（チャット履歴を転送したが、中身は見えない）",
    forward_unread="このチャット履歴は{name}には開けないの……言いたいことを言葉で教えてね！",
    face_note="（絵文字を送った）",
    emoticon_note="（スタンプを送った：{{sticker}}）",
    voice_note="（ボイスメッセージを送った）",
    video_note="（動画を送った）",
    card_note="（カードを共有した：{{title}}）",
    card_unread_note="（カードを共有したが、中身は見えない）",
    location_note="（位置情報を共有した：{{place}}）",
    dice_note="（サイコロを振った：{{result}}）",
    dice_unread_note="（サイコロを振った）",
    rps_note="（じゃんけんで{{hand}}を出した）",
    rps_unread_note="（じゃんけんをした）",
    rps_hands="グー チョキ パー",
    memory_sent_privately="{name}が覚えていることを個別メッセージで送ったよ。見てみてね。",
    memory_not_sent="個別メッセージが送れなかった……{name}を友だちに追加してから、"
    "もう一度グループで試してね。",
    qq_usage="""{name}と話すには、グループでは @するか、名前で呼びかけるか、{name}のメッセージに返信してね。個別チャットでは、そのまま話しかけてね。
/{command} reset または 記憶をリセット — あなたとの会話を忘れる
/{command} forget — {name}が保存しているあなたのすべてを完全に削除する（先に確認します）
/{command} reset @誰か — その人の会話を忘れる（グループ管理者）
/{command} reset group — このグループの会話を忘れる（グループ管理者）
/{command} memory — あなたについて覚えていること（グループで聞くと個別に送ります）
/{command} status — {name}のいまの様子
/{command} mode off|on|all — このグループで止める、呼ばれたら答える、全部に答える（グループ管理者）
/{command} reload [バージョン名] — 最新の学習済みバージョン、または指定したものに切り替える（スーパーユーザー）
/{command} rollback — ひとつ前の使えるバージョンに戻す（スーパーユーザー）
日本語でも使えるよ（/{command} リセット、ヘルプ、状態、記憶、忘れて、モード）。group は グループ、off・on・all は オフ・オン・全部 でもいいよ。""",
    qq_reset_keyword="記憶をリセット",
    qq_plugin="{name}と話そう（LoRA キャラクターモデル）、管理者は記憶をリセットできます",
    slash_atri="{name}に関するコマンド",
    slash_reset="{name}にあなたとの会話を忘れてもらう",
    slash_forget="{name}が保存しているあなたのすべてを完全に削除する",
    slash_forget_confirm="削除する（元に戻せない）",
    slash_memory="{name}があなたについて覚えていること：要約と最近の会話",
    slash_status="{name}のいまの様子：モデルのバージョン、待ち、稼働時間",
    slash_admin="{name}の記憶とモデルを管理する（管理者）",
    slash_channel="このチャンネルで{name}をオン・オフする、または全部に答えさせる",
    slash_channel_mode="このチャンネルでの{name}の話し方",
    slash_channel_target="設定するチャンネル（フォーラム・メディアも可）。空ならこのチャンネル",
    slash_mode_off="オフ：ここでは話さない",
    slash_mode_mention="呼ばれたときだけ（既定）",
    slash_mode_all="全部のメッセージに答える",
    slash_reset_user="メンバーと{name}の会話をリセットする",
    slash_reset_user_member="会話をリセットするメンバー",
    slash_reset_channel="このチャンネルの会話をリセットする",
    slash_reload="新しいモデルのバージョンを確かめて、すぐに読み込む",
    slash_reload_version="切り替えるバージョン名（ステータスの表示どおり）。空なら最新",
    slash_rollback="ひとつ前のモデルのバージョンに戻す",
)

_BY_LANGUAGE = {"zh": ZH, "en": EN, "ja": JA}

# Discord's slash-command menu as each member's own client language shows it, whatever
# language she is served in (`bot.discord.commands.MenuTranslator`). The names members
# type, by the English name each subcommand and option is registered (and run) under;
# Discord takes letters of any script, lowercase, no spaces, at most 32 characters.
SLASH_NAMES: dict[str, dict[str, str]] = {
    "zh": {
        "reset": "重置",
        "memory": "记忆",
        "forget": "忘记",
        "confirm": "确认",
        "status": "状态",
        "channel": "频道",
        "mode": "模式",
        "reset-user": "重置成员",
        "user": "成员",
        "reload": "重新加载",
        "version": "版本",
        "reset-channel": "重置频道",
        "rollback": "回滚",
    },
    "zh-TW": {
        "reset": "重置",
        "memory": "記憶",
        "forget": "忘記",
        "confirm": "確認",
        "status": "狀態",
        "channel": "頻道",
        "mode": "模式",
        "reset-user": "重置成員",
        "user": "成員",
        "reload": "重新載入",
        "version": "版本",
        "reset-channel": "重置頻道",
        "rollback": "回滾",
    },
    "ja": {
        "reset": "リセット",
        "memory": "記憶",
        "forget": "忘れる",
        "confirm": "確認",
        "status": "ステータス",
        "channel": "チャンネル",
        "mode": "モード",
        "reset-user": "メンバーリセット",
        "user": "メンバー",
        "reload": "再読み込み",
        "version": "バージョン",
        "reset-channel": "チャンネルリセット",
        "rollback": "ロールバック",
    },
}

# The menu's descriptions in Traditional Chinese (zh-TW clients), which has no lines of
# its own: ZH's `slash_*` fields written in Traditional characters.
SLASH_ZH_TW: dict[str, str] = {
    "slash_atri": "和{name}有關的命令",
    "slash_reset": "讓{name}忘掉和你的對話",
    "slash_forget": "永久刪除{name}保存的關於你的一切",
    "slash_forget_confirm": "確認刪除（無法恢復）",
    "slash_memory": "{name}記得關於你的事：摘要和最近的對話",
    "slash_status": "{name}現在的狀態：模型版本、排隊、執行時間",
    "slash_admin": "管理{name}的記憶和模型（管理員）",
    "slash_channel": "在這個頻道開啟或關閉{name}，或讓{name}每則都回答",
    "slash_channel_mode": "{name}在這個頻道怎麼說話",
    "slash_channel_target": "要設定的頻道（論壇、媒體頻道也可以）；不填則是這個頻道",
    "slash_mode_off": "關閉：在這裡不說話",
    "slash_mode_mention": "被叫到才回答（預設）",
    "slash_mode_all": "每則訊息都回答",
    "slash_reset_user": "重置某位成員和{name}的對話",
    "slash_reset_user_member": "要重置對話的成員",
    "slash_reset_channel": "重置這個頻道裡的對話",
    "slash_reload": "立即檢查並載入新的模型版本",
    "slash_reload_version": "要換上的版本名（狀態裡顯示的那樣）；不填則換上最新的",
    "slash_rollback": "退回上一個模型版本",
}


def slash_name(name: str, language: str) -> str:
    """A subcommand's or option's name (`name`, as registered) in `language` ("zh",
    "zh-TW", "ja"; English and any other: `name` itself)."""
    return SLASH_NAMES.get(language, {}).get(name, name)


def slash_text(field: str, name: str, language: str) -> str:
    """The menu's `field` (`slash_reset`, ...) in `language`, naming her `name`."""
    if language == "zh-TW":
        return SLASH_ZH_TW[field].format(name=name)
    text: str = getattr(lines_for(name, language), field)
    return text


def lines_for(name: str, language: str, command: str = DEFAULT_COMMAND) -> BotLines:
    """The lines in `language` (Chinese when it is none of ours) with her name and the
    bots' command name (`[bot] command_name`: "/atri reset") filled in; the placeholders
    a sentence fills when it is said stay as `{count}` and the like."""
    template = _BY_LANGUAGE.get(language, ZH)
    # A sentence formatted again when said must not read braces in her name as its own.
    escaped = name.replace("{", "{{").replace("}", "}}")
    filled = {}
    for field in fields(BotLines):
        text: str = getattr(template, field.name)
        filled[field.name] = text.format(name=escaped if "{{" in text else name, command=command)
    return replace(template, **filled)


_current = lines_for("亚托莉", "zh")
_language = "zh"
_command = DEFAULT_COMMAND
_card_names: tuple[str, ...] = ()  # `card_names`


def lines() -> BotLines:
    return _current


def channel_reset_command(platform: str) -> str:
    """The command an admin resets a whole channel's or group's conversations with."""
    if platform == "discord":
        return f"/{_command}-admin reset-channel"
    return f"/{_command} reset group"


def mode_on_command(platform: str) -> str:
    """The admin command that turns her back on in a channel or group (`turned_off_here`'s
    {how}): Discord's menu offers the modes, QQ takes a word."""
    if platform == "discord":
        return f"/{_command}-admin channel"
    return f"/{_command} mode on"


def forget_confirm_command(platform: str) -> str:
    """The command that confirms `/atri forget` (`forget_ask`'s {how}): Discord's
    boolean option, QQ's word after it."""
    if platform == "discord":
        return f"/{_command} forget confirm:True"
    return f"/{_command} forget confirm"


def spoken_language() -> str:
    """The language of `lines()` ("zh", "en" or "ja"), for words a platform writes its own
    way in each (QQ's @全体成员)."""
    return _language


def use_card(settings: Settings, card: Persona | None = None) -> BotLines:
    """Speak as the configured character card (`card` when already read) in the language
    she is served in: its name and language after `[persona] language` (ATRI's card,
    written in Chinese, speaks English as "ATRI" on the offline English model). A note
    in Chinese among English words pulled her replies into Chinese."""
    global _command, _card_names
    _command = settings.bot.command_name
    if card is None:
        card = load_persona(configured_card_path(settings))
    her = configured_persona(settings, card)
    _card_names = _names_on(card, her)
    return _speak_as(her.name, her.main_language)


def card_names() -> tuple[str, ...]:
    """Her names and aliases on the card the bots serve (`use_card`), in every language
    the card is written in: a member going by one is named with their id where their
    words are quoted or forwarded (`bot.quoting.author_label`). Not the lead's: fans
    call themselves 夏生 to play him."""
    return _card_names


def _names_on(card: Persona, her: Persona) -> tuple[str, ...]:
    # `her`: the card as served; a member may still go by her name in another language.
    names = [her.name, *her.aliases]
    for language in card.languages:
        names.append(card.in_language(language).name)
    return tuple(dict.fromkeys(name for name in names if name))


def use_character(name: str, language: str) -> BotLines | None:
    """Speak as a worker's character says she is (`/character`): `name` in `language`.
    None, and the lines kept, when no lines are written in that language (or a worker
    too old to tell its language)."""
    if language not in _BY_LANGUAGE or not name:
        return None
    return _speak_as(name, language)


def use_command(command: str) -> BotLines:
    """Name the bots' command `command` in every line that shows one (`/eileen reset`),
    keeping her name and language; a worker's character learned later keeps it too."""
    global _command
    _command = command
    return _speak_as(_current.name, _language)


def _speak_as(name: str, language: str) -> BotLines:
    global _current, _language
    _current = lines_for(name, language, _command)
    _language = language if language in _BY_LANGUAGE else "zh"
    return _current


def error_line_of(worker: object, own: str) -> str:
    """Her error line as `worker`'s chats say it: a worker reached over HTTP has learned
    it in the worker's language and character (`bot.relay.speak_as_the_worker`; a line
    of the bot's own, `[worker] error_reply` set, stays); an in-process one says `own`,
    the bot's config's."""
    learned = getattr(worker, "error_reply", None)
    return learned if isinstance(learned, str) and learned else own
