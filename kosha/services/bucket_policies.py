"""Bucket policies: an address allow-list for a bucket's S3 traffic (DESIGN.md, Authorization).

With a policy in place, S3 reads come only from `s3_read_only_ips` ∪ `s3_read_write_ips` and S3
writes only from `s3_read_write_ips`; entries are IPv4/IPv6 addresses or CIDR ranges. The KOS
REST API is not governed by it (the published text scopes it to S3).

`check_s3_access` runs on every S3 request, so each bucket's parsed networks (or the fact that it
has no policy) are cached in memory. A change made in this process takes effect at once; one made
by another server process sharing the database when the cache generation moves
(kosha.services.generation), at worst after `CACHE_SECONDS`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cache import TTLCache, epoch
from ..clock import iso
from ..errors import Forbidden, Invalid, NotFound
from ..ids import bucket_policy_krn
from ..store import bucket_policies as sql
from ..store.generation import invalidating
from .models import Bucket
from .principal import Principal

if TYPE_CHECKING:
    from sqlalchemy import Row

    from .container import Kosha

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CACHE_SECONDS = 5.0
MAX_ENTRIES = 1000
FIELDS = ("s3_read_write_ips", "s3_read_only_ips")


@dataclass(frozen=True)
class _Compiled:
    read_write: tuple[Network, ...]
    read_only: tuple[Network, ...]

    def allows(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, write: bool) -> bool:
        if any(address in net for net in self.read_write):
            return True
        return not write and any(address in net for net in self.read_only)


def parse_networks(value: Any, field: str) -> list[str]:
    """Validate a list of addresses/CIDRs (400 naming the bad entry); answers them trimmed."""
    if not isinstance(value, list):
        raise Invalid(f"'{field}' must be a list of IP addresses or CIDR ranges", status=422)
    if len(value) > MAX_ENTRIES:
        raise Invalid(f"'{field}' has more than {MAX_ENTRIES} entries")
    out = []
    for entry in value:
        if not isinstance(entry, str):
            raise Invalid(f"'{field}' entries must be strings", status=422)
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise Invalid(f"'{field}': {entry!r} is not an IPv4/IPv6 address or CIDR range") from None
        out.append(entry.strip())
    return out


def _network(entry: str) -> Network:
    return ipaddress.ip_network(entry, strict=False)


def _address(client_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(client_ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped   # ::ffff:10.0.0.1 is 10.0.0.1 to an allow-list
    return addr


def policy_json(bucket: Bucket, row: Row[Any]) -> dict[str, Any]:
    """A policy as the API answers it (BucketPolicy)."""
    return {
        "bucketPolicyKrn": row.krn, "bucketKrn": bucket.krn,
        "s3_read_write_ips": list(row.read_write_ips), "s3_read_only_ips": list(row.read_only_ips),
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
    }


class BucketPolicyService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self._cache: TTLCache[str, tuple[_Compiled | None]] = TTLCache(CACHE_SECONDS)

    # -- KOS REST ---------------------------------------------------------------------------
    async def get(self, principal: Principal, bucket_ref: str) -> dict[str, Any]:
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:GetBucketPolicy")
        row = await self.kosha.db.read(sql.get, bucket.name)
        if row is None:
            raise NotFound(f"bucket {bucket.name!r} has no bucket policy")
        return policy_json(bucket, row)

    async def create(self, principal: Principal, bucket_ref: str, read_write_ips: Any = None,
                     read_only_ips: Any = None) -> dict[str, Any]:
        """A new policy (409 if the bucket has one). A list left out means no addresses."""
        rw = parse_networks(read_write_ips if read_write_ips is not None else [], FIELDS[0])
        ro = parse_networks(read_only_ips if read_only_ips is not None else [], FIELDS[1])
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:PutBucketPolicy")
        now = self.kosha.clock.now()
        row = await self.kosha.db.write(invalidating(sql.insert_policy), dict(
            bucket=bucket.name, krn=bucket_policy_krn(bucket.region, bucket.account_id, bucket.name),
            read_write_ips=rw, read_only_ips=ro, created_at=now, updated_at=now))
        self.forget(bucket.name)
        return policy_json(bucket, row)

    async def update(self, principal: Principal, bucket_ref: str, read_write_ips: Any = None,
                     read_only_ips: Any = None) -> dict[str, Any]:
        """Replace the lists given; a list left out (or null) stays as it was."""
        values: dict[str, Any] = {}
        if read_write_ips is not None:
            values["read_write_ips"] = parse_networks(read_write_ips, FIELDS[0])
        if read_only_ips is not None:
            values["read_only_ips"] = parse_networks(read_only_ips, FIELDS[1])
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:PutBucketPolicy")
        values["updated_at"] = self.kosha.clock.now()
        row = await self.kosha.db.write(invalidating(sql.update_policy), bucket.name, values)
        self.forget(bucket.name)
        if row is None:
            raise NotFound(f"bucket {bucket.name!r} has no bucket policy")
        return policy_json(bucket, row)

    async def delete(self, principal: Principal, bucket_ref: str) -> None:
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:DeleteBucketPolicy")
        removed = await self.kosha.db.write(invalidating(sql.delete_policy), bucket.name)
        self.forget(bucket.name)
        if not removed:
            raise NotFound(f"bucket {bucket.name!r} has no bucket policy")

    # -- S3 ---------------------------------------------------------------------------------
    async def check_s3_access(self, bucket: Bucket, client_ip: str, write: bool) -> None:
        """Raise AccessDenied unless the bucket's policy (if any) lets `client_ip` read/write."""
        compiled = await self._compiled(bucket.name)
        if compiled is None:
            return
        address = _address(client_ip)
        if address is None or not compiled.allows(address, write):
            raise Forbidden("Access Denied: the bucket policy does not allow "
                            f"{'writes' if write else 'reads'} from this address",
                            s3_code="AccessDenied")

    def forget(self, bucket_name: str) -> None:
        self._cache.pop(bucket_name)

    async def _compiled(self, bucket_name: str) -> _Compiled | None:
        hit = self._cache.get(bucket_name)
        if hit is not None:
            return hit[0]
        since = epoch()
        row = await self.kosha.db.read(sql.get, bucket_name)
        compiled = None if row is None else _Compiled(
            tuple(_network(e) for e in row.read_write_ips), tuple(_network(e) for e in row.read_only_ips))
        self._cache.put(bucket_name, (compiled,), since=since)
        return compiled
