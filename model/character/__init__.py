"""Who ATRI is and how a conversation becomes the model's input: the character card
(`persona.py`, cards in `personas/`), building and fitting the prompt (`prompt.py`), and
the out-of-character detector (`ooc.py`)."""
