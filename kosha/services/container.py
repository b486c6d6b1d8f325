"""The running service: settings, the two stores, and one instance of each service.

Services reach their siblings through it (`self.kosha.buckets`), so each stays a small module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from .. import clock
from ..config import Settings
from ..store import blob_location
from ..store.blob_location import FileLocation
from ..store.blob_stores import open_blob_store
from ..store.database import Database
from ..store.permissions import make_private, set_umask
from ..store.reserve import SpaceReserve


log = logging.getLogger("kosha")


class Kosha:
    def __init__(self, settings: Settings) -> None:
        from .access_keys import AccessKeyService
        from .accounts import AccountService
        from .auth import AuthService
        from .background import Background, register_standard_jobs
        from .authz import Authorizer
        from .bucket_access import BucketAccess
        from .bucket_policies import BucketPolicyService
        from .buckets import BucketService
        from .crypto import SecretBox
        from .generation import GenerationWatcher
        from .health import HealthService
        from .leases import LeaseService
        from .lifecycle import LifecycleService
        from .multipart import MultipartService
        from .notifications import NotificationService
        from .objects import ObjectService
        from .policies import PolicyService
        from .sessions import SessionService

        self.settings = settings
        self.clock = clock
        self._background: set[asyncio.Future[Any]] = set()
        set_umask()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        make_private(settings.data_dir)
        self.blob_location = location = blob_location.parse(settings.blobs, settings.data_dir)
        local = isinstance(location, FileLocation) or settings.db_url.startswith("sqlite")
        # The reserve keeps room on a local disk for deletes; with blobs in a cluster and the
        # metadata in PostgreSQL nothing of Kosha's grows on this disk.
        self.reserve = SpaceReserve(settings.data_dir / "reserve",
                                    settings.storage_reserve if local else 0)
        self.db = Database(settings.db_url, on_full=self.reserve.release)
        self.blobs = open_blob_store(location, self.reserve)
        self.secrets = SecretBox.load(settings)
        self.accounts = AccountService(self)
        self.access_keys = AccessKeyService(self)
        self.sessions = SessionService(self)
        self.auth = AuthService(self)
        self.authz = Authorizer(self)
        self.buckets = BucketService(self)
        self.access = BucketAccess(self)
        self.objects = ObjectService(self)
        self.multipart = MultipartService(self)
        self.lifecycle = LifecycleService(self)
        self.policies = PolicyService(self)
        self.bucket_policies = BucketPolicyService(self)
        self.health = HealthService(self)
        self.notifications = NotificationService(self)
        self.leases = LeaseService(self)
        self.generation = GenerationWatcher(self)
        self.background = Background(self)
        register_standard_jobs(self)

    def in_background(self, work: Awaitable[Any]) -> None:
        """Run `work` without making the caller wait (housekeeping after an answer is ready).

        A failure is logged; what it leaves behind (say, an unreferenced blob) is garbage that
        the collector removes.
        """
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background work failed: %s", task.exception())

    def start(self, prepared: bool = False) -> None:
        """Migrate the schema and create the operator on an empty data directory.

        `prepared`: a supervisor did both before starting this worker process (once, not N times).
        """
        if not prepared:
            self.db.create_schema()
            self.accounts.bootstrap()
        self.generation.baseline()
        self.reserve.hold()

    def close(self) -> None:
        self.db.close()
