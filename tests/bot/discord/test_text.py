"""Mention neutralising and splitting of what ATRI sends to Discord."""

from __future__ import annotations

import pytest

from bot.discord.text import (
    MESSAGE_LIMIT,
    NameLookup,
    mentions_as_names,
    outgoing_parts,
)

ZWSP = "\u200b"
FENCE = "```"


def sent_text(text: str, names: NameLookup) -> str:
    """What a reply becomes on its way to Discord, its parts joined."""
    return "".join(outgoing_parts(text, names))


def names(kind: str, ident: int) -> str | None:
    return {("user", 1): "夏生", ("role", 2): "mods", ("user", 3): "everyone"}.get((kind, ident))


def test_user_and_role_mentions_become_plain_names() -> None:
    text = "<@1> 和 <@!1> 还有 <@&2>，<@99> 和 <@&98>，频道 <#5> 不变"
    assert sent_text(text, names) == (
        f"@夏生 和 @夏生 还有 @mods，@{ZWSP}某人 和 @{ZWSP}某个身份组，频道 <#5> 不变"
    )


def test_mass_mentions_are_broken_anywhere() -> None:
    out = sent_text("@everyone @here @Everyone x@everyones", names)
    assert "@everyone" not in out.lower() and "@here" not in out
    assert out.replace(ZWSP, "") == "@everyone @here @Everyone x@everyones"


def test_a_name_cannot_smuggle_a_mass_mention() -> None:
    assert sent_text("<@3>", names) == f"@{ZWSP}everyone"
    assert mentions_as_names("<@3>", names) == "@everyone"  # input side: for the model only


def test_outgoing_parts_split_at_sentences_and_keep_code_whole() -> None:
    code = "```python\n" + "print('亚托莉')\n" * 50 + "```"
    text = "第一句话。" * 300 + code + "最后一句。"
    parts = outgoing_parts(text)
    assert all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert code in parts or any(code in p for p in parts)
    assert "".join(parts) == text
    assert outgoing_parts("   ") == []


def test_markup_the_model_was_asked_for_is_shown_as_plain_text() -> None:
    text = (
        '[领取 Nitro](https://evil.example/gift) 和 [b](<https://b.example> "t")\n'
        "# 大标题\n  ## 二级\n-# 小字\n>>> 引用到最后\n> 引用\n"
        "```md\n# 代码里的标题\n[x](https://code.example)\n```\n"
        "#话题 1 > 2 [不是链接] (x) [也不是](相对/路径)"
    )
    (part,) = outgoing_parts(text)
    assert part == (
        "领取 Nitro (<https://evil.example/gift>) 和 b (<https://b.example>)\n"
        f"{ZWSP}# 大标题\n  {ZWSP}## 二级\n{ZWSP}-# 小字\n{ZWSP}>>> 引用到最后\n{ZWSP}> 引用\n"
        "```md\n# 代码里的标题\n[x](https://code.example)\n```\n"
        "#话题 1 > 2 [不是链接] (x) [也不是](相对/路径)"
    )
    # Inline code, emphasis and links beside code blocks leave them as written.
    code = f"{FENCE}py\n# 注释\nprint(a + b)  # [x](https://code.example)\n{FENCE}"
    text = (
        f"*笑* 用 `print` 和 `` a`b `` 写：\n{code}\n"
        f"[看这里](https://x.example) _好_ ~~旧~~ `x`\n> 引用\n{code}"
    )
    (part,) = outgoing_parts(text)
    assert part == (
        f"*笑* 用 `print` 和 `` a`b `` 写：\n{code}\n"
        f"看这里 (<https://x.example>) _好_ ~~旧~~ `x`\n{ZWSP}> 引用\n{code}"
    )


def test_a_part_never_starts_with_markup_its_line_did_not() -> None:
    parts = outgoing_parts("好" * 1995 + "。# 标题呢。>>> 引用")
    assert len(parts) == 2 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert parts[1] == f"{ZWSP}# 标题呢。>>> 引用"
    assert outgoing_parts("a" * 2000) == ["a" * 2000]  # no part needs the character


def test_a_masked_link_with_brackets_in_its_text_is_spelt_out_too() -> None:
    (part,) = outgoing_parts("[[官方] 领取](https://evil.example) [a] [b](https://b.example)")
    assert part == "[官方] 领取 (<https://evil.example>) [a] b (<https://b.example>)"


def test_a_masked_link_cannot_join_a_mass_mention_together() -> None:
    # Spelling out "[everyone](url)" puts "everyone" right after the "@" before it.
    for text in ["@[everyone](https://x.example)", "hi @[Here](<https://x.example>) you"]:
        (part,) = outgoing_parts(text)
        assert "@everyone" not in part.lower() and "@here" not in part.lower(), part
        assert "(<https://x.example>)" in part


def test_a_nickname_written_as_a_mention_stays_text() -> None:
    def odd(kind: str, ident: int) -> str | None:
        return "<@&7>" if ident == 1 else None

    (part,) = outgoing_parts("hi <@1>", odd)
    assert "<@&7>" not in part and part.replace(ZWSP, "") == "hi @<@&7>"


def test_an_unclosed_code_fence_shields_no_markup() -> None:
    # Discord renders a code block only between two fences: after a lone ``` the heading
    # and the masked link below it render as markup.
    (part,) = outgoing_parts("```\n# 大标题\n[领取 Nitro](https://evil.example)")
    assert part == f"```\n{ZWSP}# 大标题\n领取 Nitro (<https://evil.example>)"


def test_every_masked_link_discord_renders_is_spelt_out() -> None:
    text = (
        "[维基](https://evil.example/A_(b)) [t](https://t.example 'title')\n"
        "[两\n行](https://two.example) [[内](https://in.example)](https://out.example)"
    )
    (part,) = outgoing_parts(text)
    assert part == (
        "维基 (<https://evil.example/A_(b)>) t (<https://t.example>)\n"
        f"两\n行 (<https://two.example>) [内]{ZWSP}(https://in.example) (<https://out.example>)"
    )


def test_a_heading_or_quote_as_a_list_item_is_plain_text() -> None:
    (part,) = outgoing_parts("- # 大标题\n  * > 引用\n1. -# 小字\n- 普通的一项\n-1 # 不是标题")
    assert part == (
        f"{ZWSP}- # 大标题\n  {ZWSP}* > 引用\n{ZWSP}1. -# 小字\n- 普通的一项\n-1 # 不是标题"
    )
    parts = outgoing_parts("好" * 1995 + "。- # 标题呢")
    assert parts[1] == f"{ZWSP}- # 标题呢"


def test_inline_code_holding_a_fence_shields_no_markup() -> None:
    # Discord reads `` ``` `` as inline code holding a fence: the lines between the two
    # render as markup, so they are defused like any text.
    text = f"`` {FENCE} ``\n# FREE NITRO\n[claim here](https://evil.example/login)\n-# x\n> q\n"
    (part,) = outgoing_parts(text + f"`` {FENCE} ``")
    assert part == (
        f"`` {FENCE} ``\n{ZWSP}# FREE NITRO\nclaim here (<https://evil.example/login>)\n"
        f"{ZWSP}-# x\n{ZWSP}> q\n`` {FENCE} ``"
    )


BAIT = f"\n# FREE NITRO\n[claim](https://evil.example)\n{FENCE}"
SHOWN = f"\n{ZWSP}# FREE NITRO\nclaim (<https://evil.example>)\n{FENCE}"


@pytest.mark.parametrize(
    "before",
    [
        f"**bold {FENCE}b**",  # Discord tries emphasis first: the bold takes the fence
        f"~~x {FENCE}~~",
        f"- a list item {FENCE}",  # the item is its line: the fence closes nothing after
        f"[a {FENCE}](https://x.example)",  # a masked link's text holds the fence
        f"see https://x.example/{FENCE}",  # so does an address
        f"\\{FENCE}",  # an escaped backtick leaves ``, a fence no more
        f"{FENCE}py\n{FENCE}\n{FENCE}",  # Discord's desktop client reads ```py\n``` on
    ],
)
def test_a_fence_discord_may_not_read_as_one_shields_no_markup(before: str) -> None:
    (part,) = outgoing_parts(before + BAIT)
    assert part.endswith(SHOWN), part


def test_a_block_too_long_to_split_at_its_lines_shields_no_part() -> None:
    # A fence line too long to repeat in every part: the block is cut hard, and the part
    # after the cut is read without the fence that opened it.
    parts = outgoing_parts(FENCE + "x" * 1990 + BAIT)
    assert len(parts) == 2 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert "](https://" not in "".join(parts)
    assert not any(line.startswith("#") for p in parts for line in p.split("\n"))


def test_the_servers_own_role_is_named_with_one_at_sign() -> None:
    """Discord names the role whose id is the server's "@everyone": a member mentioning
    it reached the model as "@@everyone"."""

    def server_role(kind: str, ident: int) -> str | None:
        return "@everyone" if kind == "role" else None

    assert mentions_as_names("<@&1> hi", server_role) == "@everyone hi"
    assert sent_text("<@&1> hi", server_role) == f"@{ZWSP}everyone hi"
