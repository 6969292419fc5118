"""Named collector errors; each maps once, at the edge, to an HTTP status and a {code, message} body."""

from __future__ import annotations


class CollectorError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidJson(CollectorError):
    code = "invalid_json"


class PayloadTooLarge(CollectorError):
    code = "payload_too_large"


class InvalidBatch(CollectorError):
    code = "invalid_batch"


class UnknownWriteKey(CollectorError):
    status_code = 401
    code = "unknown_write_key"


class RateLimited(CollectorError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PublishFailed(CollectorError):
    """The broker did not acknowledge the events; the client must retry, nothing was accepted."""

    status_code = 503
    code = "kafka_unavailable"
