"""A lead whose name is also an English word ("Will", "May"): the word opening a question
in the character's lines ("Will you let me sleep?") became "{{user}} you let me sleep?"."""

from __future__ import annotations

from dataprep.clean import placeholder_replacer


def test_a_lead_named_like_a_word_keeps_the_word_where_a_sentence_opens_with_it() -> None:
    replace = placeholder_replacer(["Will"])
    assert replace("Will you let me sleep? I will.") == "Will you let me sleep? I will."
    assert replace("Wake up! Will it rain?") == "Wake up! Will it rain?"
    # Where it is his name, it is still replaced.
    assert replace("Thanks, Will. Will is late.") == "Thanks, {{user}}. {{user}} is late."
    assert replace("Will, you came!") == "{{user}}, you came!"
    assert replace("I told Will I would come.") == "I told {{user}} I would come."
    assert placeholder_replacer(["May"])("May I come in, May?") == "May I come in, {{user}}?"


def test_a_name_that_is_no_word_is_replaced_before_a_pronoun_too() -> None:
    replace = placeholder_replacer(["Natsuki"])
    assert replace("Natsuki you're late!") == "{{user}} you're late!"
