"""The running service: settings, the two stores, and one instance of each service.

Services reach their siblings through it (`self.kosha.buckets`), so each stays a small module.
"""

from __future__ import annotations

from .. import clock
from ..config import Settings
from ..store.blobs import LocalBlobStore
from ..store.database import Database


class Kosha:
    def __init__(self, settings: Settings) -> None:
        from .access_keys import AccessKeyService
        from .accounts import AccountService
        from .auth import AuthService
        from .authz import Authorizer
        from .bucket_policies import BucketPolicyService
        from .buckets import BucketService
        from .crypto import SecretBox
        from .lifecycle import LifecycleService
        from .multipart import MultipartService
        from .objects import ObjectService
        from .policies import PolicyService
        from .sessions import SessionService

        self.settings = settings
        self.clock = clock
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.db_url)
        self.blobs = LocalBlobStore(settings.data_dir / "blobs")
        self.secrets = SecretBox.load(settings)
        self.accounts = AccountService(self)
        self.access_keys = AccessKeyService(self)
        self.sessions = SessionService(self)
        self.auth = AuthService(self)
        self.authz = Authorizer(self)
        self.buckets = BucketService(self)
        self.objects = ObjectService(self)
        self.multipart = MultipartService(self)
        self.lifecycle = LifecycleService(self)
        self.policies = PolicyService(self)
        self.bucket_policies = BucketPolicyService(self)

    def start(self) -> None:
        """Migrate the schema and create the operator on an empty data directory."""
        self.db.create_schema()
        self.accounts.bootstrap()

    def close(self) -> None:
        self.db.close()
