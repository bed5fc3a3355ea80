"""LoRA adapter versions: on disk (`versions.py`: names, order, listing, publishing),
checked before use (`validation.py`), and switched live by the reload job (`reload.py`)."""
