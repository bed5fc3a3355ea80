"""ATRI in QQ groups through NoneBot2 and OneBot v11.

The NoneBot plugin itself is `bot.qq.atri` (its `__plugin_meta__` and matchers). It is a
module of its own because NoneBot must be the first to import a plugin, while `atri
serve` imports this package (`runner`) before NoneBot exists: keep this file free of
anything that needs NoneBot initialised.

- `config.py`: the plugin's settings (NoneBot plugin config).
- `runner.py`: starting NoneBot inside `atri serve`'s event loop.
- Reading a message: `reports.py` (OneBot reports, safe against a malformed segment),
  `text.py` (its words), `mentions.py` (@s), `faces.py`, `quotes.py`, `forwards.py` and
  `segments.py` (what it carries beside its words, as notes for the model).
- Sending her reply: `replies.py` (parts in the account's turn, memory corrected when not
  all was sent), `sending.py` (one send queue per account), `resend.py` (parts a lost
  connection cut), `input_status.py` (typing… in private chats).
- Where she must stay quiet: `quiet_groups.py` (banned, muted whole, sends refused: what
  is known), `mute_watch.py` (learning it: ban notices, and asking OneBot at a refused
  send and at connect); `group_admins.py` (who manages which group, as their messages
  there said: `/atri status` in a private chat names them the quiet groups they manage);
  `connections.py` (calls on a connection that may drop, hooks' work ended at shutdown).

The plugin finds its worker here: `atri serve` sets the in-process one; standalone, the
plugin makes an HTTP client for `ATRI_WORKER_URL`.
"""

from __future__ import annotations

from model.protocol import Worker

_worker: Worker | None = None


class NoWorker(RuntimeError):
    """The plugin was loaded with no worker to talk to."""


def set_worker(worker: Worker | None) -> None:
    global _worker
    _worker = worker


def current_worker() -> Worker:
    if _worker is None:
        raise NoWorker(
            "ATRI's QQ plugin has no worker: run it through `atri serve`, or set "
            "ATRI_WORKER_URL=http://HOST:PORT (where `atri worker` listens) in NoneBot's .env."
        )
    return _worker
