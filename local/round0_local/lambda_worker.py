"""One Lambda execution environment: a process that imports a handler once (the cold
start) and runs one invocation at a time, as Lambda does.

Started by `round0_local.functions.FunctionPool` with exactly the environment the
template gives the function. Protocol: one JSON request per line on stdin
(`{"request_id", "event", "deadline"}`), one JSON answer per line on the original
stdout (`{"ok": true, "result"}` or `{"ok": false, "errorType", "errorMessage"}`).
Everything the handler prints or logs goes to stderr, which the pool keeps.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LocalContext:
    """The parts of Lambda's context object that handlers and Powertools use."""

    def __init__(self, request_id: str, deadline: float) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main() -> None:
    handler_path = sys.argv[1]
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the handler's prints go to stderr
    module_name, _, attribute = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(request["request_id"], request["deadline"])
        answer: dict[str, Any]
        try:
            answer = {"ok": True, "result": handler(request["event"], context)}
        except Exception as error:  # noqa: BLE001 - reported to the caller, as Lambda does
            answer = {
                "ok": False,
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-3:],
            }
        sys.stdout.flush()
        answers.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    main()
