"""Who may read what, in the core's own terms: a document's access labels and a caller's principal.

Every chunk carries the labels of the groups and users that may read its document (payload field
``access``). A caller's principal turns into the labels it holds, and every search asks the store for
chunks carrying at least one of them, so a chunk the caller may not read is never even scored: it
cannot reach a hit list, a prompt, a citation or a count. Admins search without the condition.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from rag.types import SearchFilters

Role = Literal["reader", "admin", "service"]
ROLES: tuple[Role, ...] = get_args(Role)
# The group every authenticated caller belongs to: documents for the whole company.
EVERYONE = "everyone"
_GROUP = "group:"
_USER = "user:"
# Held by no one: a filter made of it matches nothing (Qdrant's "match any of []" is not a promise).
_NOBODY = "nobody:"


def normalise_user(name: str) -> str:
    """Users are known by e-mail or login name, compared without case: ``Alice@Example.com``."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def normalise_group(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().casefold()


def group_label(group: str) -> str:
    return _GROUP + normalise_group(group)


def user_label(user: str) -> str:
    return _USER + normalise_user(user)


@dataclass(frozen=True, slots=True)
class DocumentAccess:
    """The groups and users that may read a document; ``everyone`` in groups: any caller."""

    groups: tuple[str, ...] = (EVERYONE,)
    users: tuple[str, ...] = ()

    @classmethod
    def of(cls, groups: Iterable[str] = (), users: Iterable[str] = ()) -> DocumentAccess:
        return cls(
            tuple(sorted({normalise_group(g) for g in groups if g.strip()})),
            tuple(sorted({normalise_user(u) for u in users if u.strip()})),
        )

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> DocumentAccess:
        labels = list(labels)
        return cls.of(
            [label[len(_GROUP) :] for label in labels if label.startswith(_GROUP)],
            [label[len(_USER) :] for label in labels if label.startswith(_USER)],
        )

    def labels(self) -> list[str]:
        """What the store keeps in the chunk's ``access`` payload (a keyword index)."""
        return [group_label(g) for g in self.groups] + [user_label(u) for u in self.users]

    def describe(self) -> str:
        parts = [f"group {g}" if g != EVERYONE else "everyone" for g in self.groups]
        parts += [f"user {u}" for u in self.users]
        return ", ".join(parts) or "admins only"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the key's principal, or the end user a trusted front end acts for.

    ``key`` names the API key (or `local` for the CLI) for the audit trail; ``user`` is the end user
    acted for, if any. An admin acting for a user reads only what that user may read.
    """

    key: str
    role: Role
    groups: frozenset[str] = frozenset()
    user: str | None = None

    @property
    def name(self) -> str:
        return self.user or self.key

    @property
    def unrestricted(self) -> bool:
        """Reads every document: an admin key speaking for itself."""
        return self.role == "admin" and self.user is None

    def acting_for(self, user: str, groups: Iterable[str]) -> Principal:
        """This key, now speaking for ``user`` (who is in ``groups``): it reads what the user may read."""
        return dataclasses.replace(
            self, user=normalise_user(user), groups=frozenset(normalise_group(g) for g in groups)
        )

    def labels(self) -> tuple[str, ...] | None:
        """The access labels this caller holds; None: no restriction at all."""
        if self.unrestricted:
            return None
        labels = {group_label(EVERYONE)} | {group_label(g) for g in self.groups}
        labels.add(user_label(self.name))
        return tuple(sorted(labels))

    def may_read(self, access_labels: Iterable[str]) -> bool:
        held = self.labels()
        return held is None or not set(held).isdisjoint(access_labels)

    def scope(self, filters: SearchFilters | None = None) -> SearchFilters:
        """``filters`` narrowed to the documents this caller may read: the one filter every read uses."""
        filters = filters or SearchFilters()
        held = self.labels()
        if held is None:
            return filters
        return dataclasses.replace(filters, access=held or (_NOBODY,))


# The CLI on the machine that holds the data reads everything, as the files themselves allow.
LOCAL_ADMIN = Principal(key="local", role="admin")
