"""Every AWS call a function makes, recorded with what IAM evaluates for it, and S3's
answer to a missing key as a deployed role would get it.

The gateway hands each call through `AccessRecorder` before anything else (the chaos
included). A call signed by a function's execution environment (told apart by the
access key of its SigV4 credential) is mapped to the IAM actions, resources and
condition keys it needs (`round0_local.iam_calls`) and appended to the call log
(`round0_testkit.iam.calls`) with the answer's status; the check
(`round0_testkit.iam.check`) judges the log against the translated template's policies.
Everyone else's calls (the runner's, the operator's) pass untouched and unrecorded.

S3 answers GetObject and HeadObject on a missing key with 404 only to a caller allowed
`s3:ListBucket` on the bucket, and with 403 AccessDenied to anyone else; moto always
answers 404. So when moto says 404 to a function whose role (as evaluated here, with
resources and conditions) may not list the bucket, the caller gets S3's 403 instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from round0_local.chaos import Caller, access_key_of, describe_call
from round0_local.gateway import Answer, Drop, Request
from round0_local.iam_calls import StackNames, UnknownCall, describe
from round0_testkit.iam.calls import CallLogWriter, CallRecord
from round0_testkit.iam.policy import Access
from round0_testkit.iam.stack import StackPolicies

type Dispatch = Callable[[Request], Answer | Drop]


class AccessRecorder:
    def __init__(
        self,
        callers: Callable[[str], Caller | None],
        names: StackNames,
        policies: StackPolicies | None,
        log: CallLogWriter,
    ) -> None:
        self._callers = callers
        self._names = names
        self._policies = policies
        self._log = log

    def __call__(self, request: Request, dispatch: Dispatch) -> Answer | Drop:
        key = access_key_of(request)
        caller = self._callers(key) if key else None
        if caller is None:  # not a function's call: the runner's, the operator's
            return dispatch(request)
        try:
            described = describe(request, self._names)
        except UnknownCall as unknown:
            answer = dispatch(request)
            self._log.append(
                CallRecord(
                    caller.function,
                    describe_call(request).name,
                    _status(answer),
                    unknown=str(unknown),
                )
            )
            return answer
        answer = dispatch(request)
        consulted: tuple[Access, ...] = ()
        if described.reads_object is not None and _not_found(request, answer):
            bucket, _ = described.reads_object
            region = described.needs[0].context.get("aws:RequestedRegion", "")
            listing = Access(
                "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"aws:RequestedRegion": region}
            )
            consulted = (listing,)
            if (
                self._policies is not None
                and not self._policies.decide(caller.function, listing).allowed
            ):
                answer = access_denied(request)
        self._log.append(
            CallRecord(
                caller.function,
                described.call,
                _status(answer),
                tuple(described.needs),
                consulted,
            )
        )
        return answer


def _status(answer: Answer | Drop) -> int | None:
    return answer.status if isinstance(answer, Answer) else None


def _not_found(request: Request, answer: Answer | Drop) -> bool:
    """moto's answer to a key that is not there (a HEAD's 404 has no body to tell)."""
    if not isinstance(answer, Answer) or answer.status != 404:
        return False
    return request.method == "HEAD" or b"<Code>NoSuchKey</Code>" in answer.body


def access_denied(request: Request) -> Answer:
    """S3's 403 (a HEAD's carries no body)."""
    request_id = uuid.uuid4().hex[:16].upper()
    headers = [("x-amz-request-id", request_id)]
    if request.method == "HEAD":
        return Answer(403, [*headers, ("Content-Length", "0")])
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>local</HostId></Error>"
    )
    return Answer(403, [("Content-Type", "application/xml"), *headers], body.encode())
