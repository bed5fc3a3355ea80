"""`atri eval` says what its perplexity leaves out of the held-out file."""

from __future__ import annotations

from model.evaluation.runner import left_out_note
from model.training.dataset import TokenizedSet


def test_replies_the_template_hides_in_kept_conversations_are_said() -> None:
    assert left_out_note(TokenizedSet([]), 5, 512) == ""
    assert left_out_note(TokenizedSet([], hidden=2), 5, 512) == (
        "2 replies that the chat template hides in the conversations kept are not scored."
    )
    both = left_out_note(TokenizedSet([], skipped=1, hidden=1), 5, 512)
    assert both == (
        "1 of the 5 held-out conversations are left out of the perplexity: 1 too long for "
        "[train] max_seq_length = 512 even with only their last exchange. 1 reply that the "
        "chat template hides in the conversations kept is not scored."
    )
