"""Named domain errors; each maps once, at the HTTP edge, to a status and a {code, message} body."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Also raised for other people's things, so that their existence is not revealed."""

    status_code = 404
    code = "not_found"


class OrderNotFound(NotFound):
    code = "order_not_found"


class ProductNotFound(NotFound):
    code = "product_not_found"


class CouponNotFound(NotFound):
    code = "coupon_not_found"


class AddressNotFound(NotFound):
    code = "address_not_found"


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class LoginFailed(DomainError):
    status_code = 401
    code = "login_failed"


class OutOfStock(DomainError):
    status_code = 409
    code = "out_of_stock"


class InvalidTransition(DomainError):
    status_code = 409
    code = "invalid_transition"


class EmptyOrder(DomainError):
    code = "empty_order"


class CouponNotUsable(DomainError):
    status_code = 409
    code = "coupon_not_usable"


class CouponAlreadyClaimed(DomainError):
    status_code = 409
    code = "coupon_already_claimed"


class CouponSoldOut(DomainError):
    status_code = 409
    code = "coupon_sold_out"


class PaymentAmountMismatch(DomainError):
    code = "payment_amount_mismatch"


class PaymentMerchantMismatch(DomainError):
    code = "payment_merchant_mismatch"


class InvalidNotification(DomainError):
    """Bad signature, stale timestamp, undecryptable resource: nothing is changed."""

    status_code = 401
    code = "invalid_notification"


class ConcurrentUpdate(DomainError):
    status_code = 409
    code = "concurrent_update"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"


class WeChatUnavailable(DomainError):
    status_code = 502
    code = "wechat_unavailable"


class RefundNotAllowed(DomainError):
    status_code = 409
    code = "refund_not_allowed"


class GroupBuyNotFound(NotFound):
    code = "group_buy_not_found"


class GroupBuyClosed(DomainError):
    status_code = 409
    code = "group_buy_closed"


class GroupBuyFull(DomainError):
    status_code = 409
    code = "group_buy_full"


class GroupBuyAlreadyJoined(DomainError):
    status_code = 409
    code = "group_buy_already_joined"


class GroupBuyIncomplete(DomainError):
    status_code = 409
    code = "group_buy_incomplete"


class AccountFrozen(DomainError):
    """The streams flagged the account as abnormal (防刷单) and staff have not cleared it yet."""

    status_code = 403
    code = "account_frozen"


class NotEnoughPoints(DomainError):
    status_code = 409
    code = "not_enough_points"


class RewardNotFound(NotFound):
    code = "reward_not_found"


class AccountNotFound(NotFound):
    code = "account_not_found"


class FlagNotFound(NotFound):
    code = "flag_not_found"


class BargainNotFound(NotFound):
    code = "bargain_not_found"


class BargainClosed(DomainError):
    status_code = 409
    code = "bargain_closed"


class BargainAlreadyCut(DomainError):
    """One cut per friend: the same account, the same device or the same WeChat identity cuts once."""

    status_code = 409
    code = "bargain_already_cut"


class BargainOwnCut(DomainError):
    status_code = 409
    code = "bargain_own_cut"


class ExperimentNotFound(NotFound):
    code = "experiment_not_found"


class StoreNotFound(NotFound):
    code = "store_not_found"


class InvalidRule(DomainError):
    status_code = 422
    code = "invalid_rule"


class RuleNotFound(NotFound):
    code = "rule_not_found"
