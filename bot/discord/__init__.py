"""ATRI on Discord: the discord.py client (`adapter.py`), its slash commands
(`commands.py`), and turning text in and out of Discord's markup (`text.py`)."""
