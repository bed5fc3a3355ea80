"""Who is the owner or an admin of which group, as their messages there last said: a
OneBot v11 group message carries its sender's role ("owner", "admin" or "member").

`/atri status` asked in a private chat names the quiet groups a person is seen to
manage (a private chat says nothing of anyone's role in a group). What is kept is what
was seen: a role seen as "member" later (the admin stepped down) forgets them there; one
never seen speaking there is not known to manage it.
"""

from __future__ import annotations

from collections import OrderedDict

# (group, person) pairs remembered at most, the oldest seen forgotten first: admins are a
# few per group, and the bound only keeps a long run's map finite.
MAX_ADMINS = 10_000
MANAGING_ROLES = frozenset({"owner", "admin"})


class GroupAdmins:
    def __init__(self, most: int = MAX_ADMINS) -> None:
        self.most = most
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def seen(self, group: str, user: str, role: str | None) -> None:
        """A message by `user` in `group` whose sender's role was `role` (None: the report
        did not say, which changes nothing)."""
        key = (group, user)
        if role in MANAGING_ROLES:
            self._seen.pop(key, None)
            self._seen[key] = None
            while len(self._seen) > self.most:
                self._seen.popitem(last=False)
        elif role is not None:
            self._seen.pop(key, None)

    def manages(self, group: str, user: str) -> bool:
        """Whether `user` was last seen in `group` as its owner or an admin."""
        return (group, user) in self._seen
