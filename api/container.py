"""Everything a request needs, wired once by bootstrap(); routes reach it through api.deps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.adapters.field_crypto import FieldCipher
from api.adapters.recommender import LiveRecommender
from api.rate_limit import RateLimiter
from api.service_layer.accounts import VerifiedShoppers
from api.service_layer.recommendations import ShelfCache
from api.service_layer.unit_of_work import UnitOfWork
from api.settings import ApiSettings
from api.wechat.client import WeChatClient
from api.wechat.pay import WeChatPayClient


@dataclass
class Container:
    settings: ApiSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    read_only_session_factory: sessionmaker[Session]
    wechat: WeChatClient
    pay: WeChatPayClient
    cipher: FieldCipher
    login_limiter: RateLimiter
    order_limiter: RateLimiter
    clock: Callable[[], datetime]
    recommender: LiveRecommender
    shelves: ShelfCache
    verified_shoppers: VerifiedShoppers

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, clock=self.clock)

    def read_only_uow(self) -> UnitOfWork:
        """For use cases that only read (recommendations): never commit through it."""
        return UnitOfWork(self.read_only_session_factory, clock=self.clock)

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.wechat.close()
        self.pay.close()
        self.engine.dispose()
