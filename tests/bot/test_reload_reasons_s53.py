"""An admin's reload answer words a refusal's reason in her language from the worker's
`reason_code`: the worker's English sentence no longer sits inside a Chinese or Japanese
one. It shows on a line of its own only where the code says no more than that something
failed, or where the worker is one from before the codes."""

from __future__ import annotations

import re

from bot.lines import lines_for
from model.protocol import ReloadResult

V1, V2 = "20260101-000000", "20260102-000000"
OTHER = ReloadResult(
    ok=False,
    message="Version 2 was trained as Eileen, but this worker serves ATRI: … Still serving …",
    adapter_version=V1,
    code="refused",
    version=V2,
    reason="Version 2 was trained as Eileen, but this worker serves ATRI: give each …",
    reason_code="other_character",
    reason_details={"trained_as": "Eileen", "serves": "ATRI"},
)
LATIN_SENTENCE = re.compile(r"[A-Za-z]+ [a-z]+ [a-z]+")


def test_a_coded_reason_is_worded_in_her_language_without_the_workers_english() -> None:
    assert lines_for("亚托莉", "zh").reload_said(OTHER) == (
        f"没有换上版本 {V2}：这个版本是作为Eileen训练的，而这个模型服务扮演的是ATRI。"
        f"请给每个角色设置各自的 [model] adapters_dir。仍在使用版本 {V1}。"
    )
    japanese = lines_for("アトリ", "ja").reload_said(OTHER)
    assert japanese.startswith(
        f"バージョン {V2}には切り替えませんでした：このバージョンはEileenとして"
    )
    for said in (lines_for("亚托莉", "zh").reload_said(OTHER), japanese):
        assert "\n" not in said and not LATIN_SENTENCE.search(said)
    assert lines_for("ATRI", "en").reload_said(OTHER) == (
        f"Did not switch to adapter version {V2}: it was trained as Eileen, but this worker "
        f"serves ATRI. Give each character its own [model] adapters_dir. Still serving "
        f"adapter version {V1}."
    )


def test_an_ooc_refusal_names_the_version_it_was_measured_against() -> None:
    worse = OTHER.model_copy(
        update={
            "reason_code": "ooc_worse",
            "reason_details": {"rate": "30.0%", "against": V1, "against_rate": "10.0%", "margin": "5.0%"},
        }
    )  # fmt: skip
    said = lines_for("亚托莉", "zh").reload_said(worse)
    assert f"有 30.0% 的回复出戏，版本 {V1}是 10.0%，比允许的 5.0% 差得更多。" in said


def test_a_worker_from_before_the_codes_is_quoted_on_a_line_of_its_own() -> None:
    old = OTHER.model_copy(update={"reason_code": "", "reason_details": {}})
    first, quoted = lines_for("亚托莉", "zh").reload_said(old).split("\n")
    assert first == f"没有换上版本 {V2}：它没有通过模型服务的检查。仍在使用版本 {V1}。"
    assert quoted == f"模型服务的原话：{old.reason}"
    hint = ReloadResult(
        ok=False, message="…", code="no_version", folder="/a", reason="X holds a peft adapter."
    )
    assert lines_for("アトリ", "ja").reload_said(hint) == (
        "/a に完全なバージョンがありません。\nワーカーの原文：X holds a peft adapter."
    )


def test_a_code_unknown_here_or_missing_its_details_is_quoted_too() -> None:
    for update in ({"reason_code": "from_a_newer_worker"}, {"reason_details": {}}):
        said = lines_for("亚托莉", "zh").reload_said(OTHER.model_copy(update=update))
        assert said.endswith(f"\n模型服务的原话：{OTHER.reason}")


def test_every_reason_code_the_worker_sends_has_its_line() -> None:
    from dataclasses import fields

    from bot.lines import BotLines
    from model.protocol import REASON_CODES

    assert {f"reason_{code}" for code in REASON_CODES} <= {f.name for f in fields(BotLines)}


def test_an_older_workers_record_with_no_reason_at_all_still_gives_one() -> None:
    """An older worker's /status record for a caller without the token has neither
    `reason` nor `reason_code`: "Did not switch to X:  Still serving …" said nothing."""
    bare = OTHER.model_copy(update={"reason": "", "reason_code": "", "reason_details": {}})
    assert lines_for("ATRI", "en").reload_said(bare) == (
        f"Did not switch to adapter version {V2}: it did not pass the worker's checks. "
        f"Still serving adapter version {V1}."
    )
    assert lines_for("亚托莉", "zh").reload_said(bare) == (
        f"没有换上版本 {V2}：它没有通过模型服务的检查。仍在使用版本 {V1}。"
    )


def test_a_version_rolled_back_from_is_said_passed_over_in_her_language() -> None:
    """Session 67: a reload without a version passes over one an admin rolled back from;
    with no code of its own the bots said "it did not pass the worker's checks"."""
    kept = ReloadResult(
        ok=True,
        message=f"Already serving adapter version {V1}. The newer version {V2} was passed over",
        adapter_version=V1,
        code="already_serving",
        version=V1,
        skipped=V2,
        reason=f"Version {V2} was rolled back from by an admin: only a reload naming it …",
        reason_code="rolled_back",
    )
    chinese = lines_for("亚托莉", "zh").reload_said(kept)
    assert "管理员已经从它回滚" in chinese and not LATIN_SENTENCE.search(chinese)
    assert "an admin rolled back from it" in lines_for("ATRI", "en").reload_said(kept)
