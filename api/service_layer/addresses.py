"""Shipping addresses: recipient, phone and street are AES-GCM encrypted at rest; owner-only access."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from api.adapters import tables as t
from api.adapters.field_crypto import FieldCipher
from api.domain.errors import AddressNotFound
from api.service_layer.unit_of_work import UnitOfWork

ENCRYPTED_FIELDS = ("recipient", "phone", "detail")


@dataclass(frozen=True)
class AddressInput:
    recipient: str
    phone: str
    province: str
    city: str
    detail: str


def _aad(address_id: str, user_id: str, field: str) -> str:
    return f"{address_id}|{user_id}|{field}"


def add_address(
    uow: UnitOfWork, cipher: FieldCipher, *, user_id: str, address: AddressInput, now: datetime
) -> str:
    address_id = "a" + secrets.token_hex(10)
    values = {
        f"{field}_ct": cipher.encrypt(
            getattr(address, field), associated_data=_aad(address_id, user_id, field)
        )
        for field in ENCRYPTED_FIELDS
    }
    with uow:
        uow.session.execute(
            insert(t.addresses).values(
                address_id=address_id,
                user_id=user_id,
                key_id=cipher.active_key_id,
                province=address.province,
                city=address.city,
                created_at=now,
                **values,
            )
        )
        uow.commit()
    return address_id


def _decrypted(cipher: FieldCipher, row: Any) -> dict[str, Any]:
    plain = {
        field: cipher.decrypt(
            row[f"{field}_ct"],
            key_id=row["key_id"],
            associated_data=_aad(row["address_id"], row["user_id"], field),
        )
        for field in ENCRYPTED_FIELDS
    }
    return {"address_id": row["address_id"], "province": row["province"], "city": row["city"], **plain}


def list_addresses(uow: UnitOfWork, cipher: FieldCipher, *, user_id: str) -> list[dict[str, Any]]:
    with uow:
        found = uow.session.execute(
            select(t.addresses).where(t.addresses.c.user_id == user_id).order_by(t.addresses.c.created_at)
        ).mappings()
        return [_decrypted(cipher, row) for row in found]


def get_address(uow: UnitOfWork, cipher: FieldCipher, *, user_id: str, address_id: str) -> dict[str, Any]:
    with uow:
        row = (
            uow.session.execute(
                select(t.addresses).where(
                    and_(t.addresses.c.address_id == address_id, t.addresses.c.user_id == user_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise AddressNotFound("no such address")
        return _decrypted(cipher, row)


def delete_address(uow: UnitOfWork, *, user_id: str, address_id: str) -> None:
    with uow:
        result = uow.session.execute(
            delete(t.addresses).where(
                and_(t.addresses.c.address_id == address_id, t.addresses.c.user_id == user_id)
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise AddressNotFound("no such address")
        uow.commit()


def rotate_address_keys(uow: UnitOfWork, cipher: FieldCipher, *, batch_size: int = 500) -> int:
    """Re-encrypt every address not yet under the active key; returns how many were re-encrypted."""
    rotated = 0
    while True:
        with uow:
            rows = list(
                uow.session.execute(
                    select(t.addresses).where(t.addresses.c.key_id != cipher.active_key_id).limit(batch_size)
                ).mappings()
            )
            if not rows:
                return rotated
            for row in rows:
                plain = _decrypted(cipher, row)
                uow.session.execute(
                    update(t.addresses)
                    .where(t.addresses.c.address_id == row["address_id"])
                    .values(
                        key_id=cipher.active_key_id,
                        **{
                            f"{field}_ct": cipher.encrypt(
                                plain[field], associated_data=_aad(row["address_id"], row["user_id"], field)
                            )
                            for field in ENCRYPTED_FIELDS
                        },
                    )
                )
            uow.commit()
            rotated += len(rows)


def shipping_region(uow: UnitOfWork, *, user_id: str, address_id: str) -> tuple[str, str] | None:
    """The address's (province, city) when it is the shopper's own, else None. Inside an open unit of work."""
    row = uow.session.execute(
        select(t.addresses.c.province, t.addresses.c.city).where(
            and_(t.addresses.c.address_id == address_id, t.addresses.c.user_id == user_id)
        )
    ).first()
    return (row.province, row.city) if row else None


def owns_address(uow: UnitOfWork, *, user_id: str, address_id: str) -> bool:
    """Inside an open unit of work."""
    return (
        uow.session.execute(
            select(t.addresses.c.address_id).where(
                and_(t.addresses.c.address_id == address_id, t.addresses.c.user_id == user_id)
            )
        ).first()
        is not None
    )
