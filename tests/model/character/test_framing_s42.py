"""The system prompt's own sentences name the character: a Japanese card of a man
was told to answer in 彼女の口調 ("her tone")."""

from __future__ import annotations

from model.character.persona import Persona


def test_a_male_japanese_card_is_told_to_answer_in_his_own_voice() -> None:
    kenta = Persona(language="ja", name="健太", description="港町に住む男の子です。")
    intro = kenta.system_prompt().splitlines()[0]
    assert (
        intro
        == "あなたは健太です。いつも健太として、健太の口調で答え、キャラクターを崩さないでください。"
    )
    assert "彼" not in kenta.system_prompt()
