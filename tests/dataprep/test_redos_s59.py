"""A script file is read, or refused with its sentence, in time linear in its size: blank
lines were read again from each line's start (format sniffing) or from each position at
the file's end (translation dumps), seconds for a few hundred kilobytes."""

from __future__ import annotations

import json
import time

from dataprep.formats import detect_format_at, parse
from dataprep.formats.common import ParseOptions
from dataprep.formats.renpy import say_ids
from dataprep.formats.renpy.say_code import munged as munged_code
from dataprep.formats.renpy.say_code import say_codes
from dataprep.speakers import normalise_name


def test_sniffing_windows_of_blank_lines_is_linear() -> None:
    # Nine windows, each one KAG tag (too few to tell a format from) and 32k blank lines:
    # a Ren'Py sign was looked for from each blank line's start to the window's end.
    text = "hello\n" + ("\n[r]\na\nb\n" + "\n" * 32_000) * 9
    started = time.perf_counter()
    assert detect_format_at(text, "script.txt") == ("plain", "", 0)
    assert time.perf_counter() - started < 2


def test_renpy_signs_below_blank_lines_still_count() -> None:
    text = "\n \n\t\ndefine a = Character('亚托莉')\n\n\nlabel start:\n    a \"你好\"\n"
    fmt, why, _ = detect_format_at(text, "script.txt")
    assert (fmt, why) == ("renpy", "2 Ren'Py define/label/translate lines")


def test_a_dump_ending_in_blank_lines_is_read_in_time() -> None:
    text = "○000001○こんにちは\n●000001●你好\n" + " \n" * 100_000
    started = time.perf_counter()
    said = parse(text, "dump.txt", "translation_dump", ParseOptions())
    assert time.perf_counter() - started < 2
    assert [(u.text, u.line) for u in said] == [("你好", 2)]


def _naninovel_lines(text: str) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in parse(text, "x.nani", "naninovel", ParseOptions())]


def test_a_naninovel_run_of_unclosed_brackets_is_linear() -> None:
    # Each "[" split the run after it between a command's name and its rest every way:
    # 4,000 took 8 s, and the time grew with the cube of the run.
    started = time.perf_counter()
    said = _naninovel_lines("Kohaku: a [i]b " + "[" * 20_000)
    assert time.perf_counter() - started < 2
    assert said == [("Kohaku", "a b " + "[" * 20_000)]


def test_a_naninovel_tag_left_open_with_many_blanks_is_linear() -> None:
    started = time.perf_counter()
    said = _naninovel_lines("Kohaku: <b>hi</b> <b" + " " * 100_000 + "there")
    assert time.perf_counter() - started < 2
    assert said == [("Kohaku", "hi <b" + " " * 100_000 + "there")]


def _kirikiri_lines(text: str) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in parse(text, "x.ks", "kirikiri", ParseOptions())]


def test_a_kirikiri_tag_of_one_long_word_is_linear() -> None:
    # Each letter was tried as an attribute's name and read to the word's end (20,000
    # letters took 3 s, quadratic).
    started = time.perf_counter()
    said = _kirikiri_lines("[" + "a" * 100_000 + "]\n【亚托莉】「你好」\n")
    assert time.perf_counter() - started < 2
    assert said == [("亚托莉", "「你好」")]


def test_a_kirikiri_macro_tag_with_a_long_word_is_linear() -> None:
    body = "[nm t=%who " + "a" * 100_000 + "]"
    started = time.perf_counter()
    said = _kirikiri_lines(f"[macro name=say]{body}[endmacro]\n[say who=亚托莉]「你好」\n")
    assert time.perf_counter() - started < 2
    assert said == [("亚托莉", "「你好」")]


def test_a_long_speaker_name_of_brackets_is_normalised_in_time() -> None:
    # Every speaker of every format is normalised: a JSON message list's name field holds
    # whatever the file says (20,000 "】" took 1 s, quadratic).
    name = "】" * 100_000 + "亚托莉"
    said = parse(json.dumps([{"name": name, "message": "你好"}]), "x.json", "json", ParseOptions())
    started = time.perf_counter()
    assert normalise_name(said[0].speaker or "") == name
    assert normalise_name("【亚托莉】") == "亚托莉"
    assert time.perf_counter() - started < 2


def test_a_table_of_lone_quote_lines_is_sniffed_in_time() -> None:
    # csv.Sniffer's quote patterns grow with the square of what they read: its 16 KiB of
    # such lines took 5 s.
    text = "name,text\n亚托莉,你好\n" + "'\n" * 100_000
    started = time.perf_counter()
    said = parse(text, "x.csv", "csv", ParseOptions())
    # The sniffer's 4 KiB alone take 0.5 s here (0.9 s in all), near 2 s on a loaded
    # machine; sniffing the whole 200 KB, the fault this guards, takes minutes.
    assert time.perf_counter() - started < 6
    assert (said[0].speaker, said[0].text) == ("亚托莉", "你好")


def test_a_voice_list_path_of_many_slashes_is_sniffed_in_time() -> None:
    # A first field of 15,000 slashes and a blank: each slash was tried as the path's
    # first and the field read on to its end, 1.5 s a window; nine windows are sniffed.
    text = "hello\n" + ("\n[r]\na\nb\n" + "a/" * 15_000 + " x|A|zh|hi\n") * 9
    started = time.perf_counter()
    assert detect_format_at(text, "script.txt") == ("plain", "", 0)
    assert time.perf_counter() - started < 2
    voiced = "wavs/1.wav|亚托莉|zh|你好\n" * 3 + "wavs/" + "a/" * 15_000 + "1|亚托莉|zh|你好\n"
    assert detect_format_at(voiced, "list.txt")[0] == "voice_list"


def _renpy_lines(text: str, options: ParseOptions) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in parse(text, "x.rpy", "renpy", options)]


def test_a_renpy_statement_of_escaped_quotes_is_joined_in_time() -> None:
    # A string of 50,000 `\"` whose line ends in a backslash, and one of them in backticks:
    # a string was opened at each of them and read to the run's end (40k took 5 s).
    started = time.perf_counter()
    said = _renpy_lines('label s:\n    e "' + '\\"' * 50_000 + '\\\nx"\n', ParseOptions())
    backticked = _renpy_lines('label s:\n    e "a" (\n`' + '\\"' * 50_000 + "`)\n", ParseOptions())
    assert time.perf_counter() - started < 2
    assert said == [("e", '"' * 50_000 + " x")]
    assert backticked == [("e", "a")]


def test_a_renpy_string_of_unclosed_disambiguations_is_looked_up_in_time() -> None:
    # A string said from Python is looked up without its `{#…}`: each of 50,000 left
    # open was read to the line's end (40k characters took 3 s).
    text = 'label s:\n    $ renpy.say(e, "' + "{#" * 50_000 + '")\n    $ renpy.say(e, "你好{#a}")\n'
    options = ParseOptions(renpy_language="chinese", renpy_strings={"你好": "早上好"})
    started = time.perf_counter()
    said = _renpy_lines(text, options)
    assert time.perf_counter() - started < 2
    assert said == [("e", "{#" * 50_000), ("e", "早上好")]


def test_a_renpy_run_of_brackets_is_munged_in_time() -> None:
    # Ren'Py before 8.3 munges `[__name` in a string: each "[" of a run not followed by
    # `__` read the run again (40,000 took 5 s; the pipeline reads every say statement so
    # when it places a translation's lines).
    line = 'e "' + "[" * 100_000 + 'a[__x [[__y"'
    started = time.perf_counter()
    schemes = say_ids.say_identifier_schemes(f"label s:\n    {line}\n", "s.rpy")
    munged = munged_code(line, "s.rpy", True)
    assert time.perf_counter() - started < 2
    assert [list(found.values()) for found in schemes] == [[2], [2], [2]]
    assert munged == 'e "' + "[" * 100_000 + 'a[_m1_s__x [[__y"'


def test_a_renpy_line_of_open_ruby_tags_is_shown_in_time() -> None:
    # Each `{rt}` with no `{/rt}` after it on its line was read to the line's end (40k
    # characters took 1.7 s); a closed one still drops its reading.
    text = 'label s:\n    e "' + "{rt}" * 25_000 + '"\n    e "{rb}東{/rb}{rt}とう{/rt}京"\n'
    started = time.perf_counter()
    said = _renpy_lines(text, ParseOptions())
    assert time.perf_counter() - started < 2
    assert said == [("e", "東京")]  # the first line shows nothing


def test_a_renpy_say_statement_of_escaped_quotes_in_backticks_is_read_in_time() -> None:
    # Its arguments are read as Ren'Py's lexer reads Python: a string was tried at each
    # `\"` in the backticks and read to the line's end (40k characters took 10 s).
    line = 'e "hi" (`' + '\\"' * 50_000 + "`)"
    started = time.perf_counter()
    schemes = say_ids.say_identifier_schemes(f"label s:\n    {line}\n", "s.rpy")
    codes = say_codes(line)
    assert time.perf_counter() - started < 2
    assert [list(found.values()) for found in schemes] == [[2], [2], [2]]
    assert codes == ([line], None)
