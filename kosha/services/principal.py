"""Who is asking: the principal every service call is made on behalf of."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    account_id: str
    kcid: str
    is_admin: bool = False        # account admin: anything on the account's resources
    is_operator: bool = False     # deployment operator: may call /internal
    access_key: str | None = None
    anonymous: bool = False

    @property
    def can_do_anything(self) -> bool:
        return self.is_admin or self.is_operator


ANONYMOUS = Principal(account_id="", kcid="", anonymous=True)
