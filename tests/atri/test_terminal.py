from __future__ import annotations

from atri.terminal import counted, printable, waking_line


def test_a_count_reads_as_a_person_writes_it() -> None:
    # `atri eval --recall --recall-probes 1` printed "1 probes".
    assert counted(1, "probe") == "1 probe"
    assert counted(0, "probe") == "0 probes"
    assert counted(2, "exchange") == "2 exchanges"


def test_terminal_commands_in_a_name_are_not_printed() -> None:
    assert printable("A\x1b]0;pwned\x07TRI\n") == "A]0;pwnedTRI\n"
    assert waking_line("亚托莉\x1bc") == "Waking 亚托莉c up (loading the model)…"  # ESC gone
    assert waking_line("Eileen", "echo") == "Waking Eileen up (no model to load: echo engine)…"
