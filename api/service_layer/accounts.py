"""Shopper login through WeChat, our own session tokens, and back-office staff accounts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, delete, insert, select, update

from api.adapters import tables as t
from api.domain.errors import DomainError, Forbidden, LoginFailed, Unauthenticated
from api.service_layer import membership
from api.service_layer.account_erasure import AccountErased, is_erased_openid
from api.service_layer.unit_of_work import UnitOfWork
from api.wechat.client import WeChatClient


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    MARKETER = "marketer"
    ANALYST = "analyst"


@dataclass(frozen=True)
class Shopper:
    user_id: str
    openid: str


@dataclass(frozen=True)
class StaffMember:
    staff_id: str
    username: str
    role: Role


@dataclass(frozen=True)
class IssuedToken:
    token: str
    subject_id: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue(uow: UnitOfWork, *, subject_id: str, kind: str, now: datetime, ttl: timedelta) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    expires_at = now + ttl
    uow.session.execute(
        insert(t.sessions).values(
            token_hash=_token_hash(token), subject_id=subject_id, kind=kind, expires_at=expires_at
        )
    )
    uow.session.execute(delete(t.sessions).where(t.sessions.c.expires_at < now))
    return IssuedToken(token=token, subject_id=subject_id, expires_at=expires_at)


def login_shopper(
    uow: UnitOfWork, wechat: WeChatClient, *, code: str, now: datetime, ttl: timedelta
) -> IssuedToken:
    """wx.login code → code2Session → our own token. The session_key is stored and never returned."""
    session = wechat.code2session(code)
    with uow:
        user_id = uow.session.execute(
            select(t.users.c.user_id).where(t.users.c.openid == session.openid)
        ).scalar_one_or_none()
        if user_id is None:
            user_id = "u" + secrets.token_hex(10)
            uow.session.execute(
                insert(t.users).values(
                    user_id=user_id,
                    openid=session.openid,
                    unionid=session.unionid,
                    session_key=session.session_key,
                    created_at=now,
                    last_login_at=now,
                )
            )
            membership.on_registration(uow, user_id=user_id, now=now)
        else:
            uow.session.execute(
                update(t.users)
                .where(t.users.c.user_id == user_id)
                .values(session_key=session.session_key, unionid=session.unionid, last_login_at=now)
            )
        issued = _issue(uow, subject_id=user_id, kind="shopper", now=now, ttl=ttl)
        uow.commit()
    return issued


def _subject(uow: UnitOfWork, token: str, kind: str, now: datetime) -> str:
    subject_id = uow.session.execute(
        select(t.sessions.c.subject_id).where(
            and_(
                t.sessions.c.token_hash == _token_hash(token),
                t.sessions.c.kind == kind,
                t.sessions.c.expires_at > now,
            )
        )
    ).scalar_one_or_none()
    if subject_id is None:
        raise Unauthenticated("log in again")
    return str(subject_id)


def shopper_for_token(uow: UnitOfWork, token: str, *, now: datetime) -> Shopper:
    with uow:
        user_id = _subject(uow, token, "shopper", now)
        openid: str = uow.session.execute(
            select(t.users.c.openid).where(t.users.c.user_id == user_id)
        ).scalar_one()
    return Shopper(user_id=user_id, openid=openid)


class VerifiedShoppers:
    """Shopper tokens verified in the last `max_age_s`, so read-only routes on every page (recommendations)
    skip the two session reads. A token is trusted from memory until the earlier of its own expiry and
    `max_age_s` after it was checked; a session deleted in the database (expiry sweep) stops working here
    within `max_age_s`. Bounded (least recently used first out); safe to share between threads.
    """

    def __init__(self, *, max_age_s: float = 30.0, max_entries: int = 100_000) -> None:
        if max_age_s < 0:
            raise ValueError(f"max_age_s must be >= 0, got {max_age_s}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._max_age = timedelta(seconds=max_age_s)
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Shopper, datetime]] = OrderedDict()  # hash → (shopper, until)

    def shopper_for_token(self, uow: UnitOfWork, token: str, *, now: datetime) -> Shopper:
        """Like :func:`shopper_for_token`, from memory when the token was verified recently."""
        key = _token_hash(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if now < entry[1]:
                    self._entries.move_to_end(key)
                    return entry[0]
                del self._entries[key]
        if not self._max_age:
            return shopper_for_token(uow, token, now=now)
        with uow:
            row = uow.session.execute(
                select(t.sessions.c.subject_id, t.sessions.c.expires_at, t.users.c.openid)
                .join(t.users, t.users.c.user_id == t.sessions.c.subject_id)
                .where(
                    and_(
                        t.sessions.c.token_hash == key,
                        t.sessions.c.kind == "shopper",
                        t.sessions.c.expires_at > now,
                    )
                )
            ).first()
        if row is None:
            raise Unauthenticated("log in again")
        user_id, openid = row[0], row[2]
        expires_at: datetime = row[1]
        shopper = Shopper(user_id=str(user_id), openid=str(openid))
        with self._lock:
            self._entries[key] = (shopper, min(expires_at, now + self._max_age))
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return shopper


def openid_of(uow: UnitOfWork, user_id: str) -> str:
    """The shopper's real openid (NoResultFound for no such account; AccountErased once she closed it: her
    placeholder is no address)."""
    with uow:
        openid = str(
            uow.session.execute(select(t.users.c.openid).where(t.users.c.user_id == user_id)).scalar_one()
        )
    if is_erased_openid(openid):
        raise AccountErased("this shopper's account was erased; nothing may be sent to it")
    return openid


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.hex(), digest)


class UsernameTaken(DomainError):
    status_code = 409
    code = "username_taken"


def create_staff(uow: UnitOfWork, *, username: str, password: str, role: Role, now: datetime) -> StaffMember:
    if len(password) < 12:
        raise DomainError("staff passwords need at least 12 characters")
    with uow:
        if uow.session.execute(select(t.staff.c.staff_id).where(t.staff.c.username == username)).first():
            raise UsernameTaken(f"{username} already exists")
        staff_id = "s" + secrets.token_hex(10)
        uow.session.execute(
            insert(t.staff).values(
                staff_id=staff_id,
                username=username,
                password_hash=hash_password(password),
                role=role,
                created_at=now,
            )
        )
        uow.commit()
    return StaffMember(staff_id=staff_id, username=username, role=role)


def login_staff(
    uow: UnitOfWork, *, username: str, password: str, now: datetime, ttl: timedelta
) -> IssuedToken:
    with uow:
        row = uow.session.execute(select(t.staff).where(t.staff.c.username == username)).mappings().first()
        # Same answer for an unknown name and a wrong password.
        if row is None or not verify_password(password, row["password_hash"]):
            raise LoginFailed("wrong username or password")
        issued = _issue(uow, subject_id=row["staff_id"], kind="staff", now=now, ttl=ttl)
        uow.commit()
    return issued


def staff_for_token(uow: UnitOfWork, token: str, *, now: datetime) -> StaffMember:
    with uow:
        staff_id = _subject(uow, token, "staff", now)
        row = uow.session.execute(select(t.staff).where(t.staff.c.staff_id == staff_id)).mappings().one()
    return StaffMember(staff_id=row["staff_id"], username=row["username"], role=Role(row["role"]))


def require_role(member: StaffMember, allowed: frozenset[Role]) -> None:
    if member.role not in allowed:
        raise Forbidden(f"this needs one of the roles: {', '.join(sorted(allowed))}")
