"""Session 51: Shift-JIS bytes are guessed as CP932, so one game's files read alike."""

from __future__ import annotations

from dataprep.encoding import decode_bytes

# Two files of one game: the first has only characters Shift-JIS also reads, the second
# a NEC one (①) only CP932 reads. 0x8160 must be the same tilde in both.
PLAIN_BYTES = (
    "アトリ「おはようございます、夏生さん～」\n夏生「ああ、おはよう」\n".encode("cp932") * 4
)
WINDOWS_BYTES = "アトリ「今日は①番目の晴れですね～」\n夏生「ああ、そうだな」\n".encode("cp932") * 4


def test_the_wave_dash_byte_reads_the_same_in_every_file_of_a_game() -> None:
    plain, plain_encoding = decode_bytes(PLAIN_BYTES, "a.txt")
    windows, windows_encoding = decode_bytes(WINDOWS_BYTES, "b.txt")
    assert plain_encoding == windows_encoding == "cp932"
    assert "～" in plain and "～" in windows  # U+FF5E, as Windows writes it
    assert "〜" not in plain + windows  # U+301C, Shift-JIS's reading of the same bytes
