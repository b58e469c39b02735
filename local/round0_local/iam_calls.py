"""What IAM evaluates for one AWS call, read from the signed HTTP request itself.

For each call a function makes through the gateway: the IAM action(s), the resource
ARN(s) and the condition keys IAM would evaluate (the Service Authorization Reference's
mapping of each operation):

- DynamoDB: the operation's action on the table ARN, on `table/T/index/I` for a Query
  or Scan of an index; `dynamodb:LeadingKeys` is the partition key value of `Key`
  (`Item` for PutItem; the key condition's for a Query; every item's for the batch
  operations). TransactWriteItems is no action of its own: each item needs PutItem,
  UpdateItem, DeleteItem or ConditionCheckItem on its table, TransactGetItems GetItem.
- S3: the object ARN `arn:aws:s3:::bucket/key` (the key decoded) for object operations:
  GetObject and HeadObject need s3:GetObject; PutObject s3:PutObject, and
  s3:PutObjectTagging when it carries tags; a multipart upload's create, parts and
  completion s3:PutObject, its abort s3:AbortMultipartUpload, its listing
  s3:ListMultipartUploadParts; CopyObject s3:PutObject on the target and s3:GetObject
  on the source; DeleteObjects s3:DeleteObject per key. The bucket ARN for
  ListObjects(V2) and HeadBucket (s3:ListBucket, with `s3:prefix`, `s3:delimiter`,
  `s3:max-keys`). Writes carry the `s3:x-amz-server-side-encryption*`,
  `s3:if-none-match` and `s3:RequestObjectTag*` keys they set.
- SQS: the queue ARN from `QueueUrl` (`QueueName` for GetQueueUrl); a batch operation
  needs its single action (SendMessageBatch: sqs:SendMessage, ...).
- EventBridge: PutEvents is authorized per entry: events:PutEvents on the entry's bus,
  with `events:source` and `events:detail-type`.
- Secrets Manager: the secret's ARN (a name is looked up among the stack's secrets),
  with `secretsmanager:SecretId`; SSM: the parameter's ARN; SES: SendEmail and
  SendRawEmail on the identity the From address sends from (the address if verified,
  else its domain), with `ses:FromAddress`, `ses:FromDisplayName`, `ses:Recipients`,
  `ses:FeedbackAddress`; Lambda: Invoke needs lambda:InvokeFunction on the function (and
  qualifier); STS GetCallerIdentity needs nothing.

Every call also carries `aws:RequestedRegion`. Anything else (an operation, a service
such as KMS, whose key policies the check does not model) raises `UnknownCall`: the
check fails on it rather than passing it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

from round0_local.gateway import INVOKE_PATH, Request, function_name_of
from round0_testkit.iam.policy import Access, ContextValue
from round0_testkit.template import ACCOUNT, TemplateStack


class UnknownCall(Exception):
    """A call whose IAM mapping is not known here."""


@dataclass(frozen=True)
class TableKeys:
    partition_key: str
    index_partition_keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StackNames:
    """What the mapping must know of the stack: key schemas, secrets, SES identities."""

    tables: Mapping[str, TableKeys]  # by table name
    secrets: Mapping[str, str]  # ARN by secret name
    ses_identities: Callable[[], Collection[str]] = lambda: ()  # verified, now
    account: str = ACCOUNT

    @classmethod
    def of(cls, stack: TemplateStack, ses_identities: Callable[[], Collection[str]]) -> StackNames:
        tables = {}
        for name, body in stack.of_type("AWS::DynamoDB::Table").items():
            properties = body["Properties"]
            indexes = [
                *properties.get("GlobalSecondaryIndexes", []),
                *properties.get("LocalSecondaryIndexes", []),
            ]
            tables[stack.physical_name(name)] = TableKeys(
                _hash_key(properties["KeySchema"]),
                {index["IndexName"]: _hash_key(index["KeySchema"]) for index in indexes},
            )
        secrets = {
            f"{stack.stack_name}/{name}": stack.arns[name]
            for name in stack.of_type("AWS::SecretsManager::Secret")
            if name in stack.arns
        }
        return cls(tables, secrets, ses_identities)


def _hash_key(schema: Iterable[Mapping[str, str]]) -> str:
    return next(key["AttributeName"] for key in schema if key["KeyType"] == "HASH")


@dataclass(frozen=True)
class Described:
    service: str
    operation: str
    needs: list[Access]
    # (bucket, key) of a GetObject or HeadObject: S3 answers a missing key with 404 only
    # to a caller allowed s3:ListBucket on the bucket, else 403
    reads_object: tuple[str, str] | None = None

    @property
    def call(self) -> str:
        return f"{self.service}.{self.operation}"


def describe(request: Request, names: StackNames) -> Described:
    """The call's service, operation and what IAM evaluates for it; UnknownCall if the
    mapping is not known."""
    authorization = request.header("Authorization") or ""
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    if len(scope) < 5:
        raise UnknownCall("not signed with SigV4")
    region, service = scope[2], scope[3]
    call = _Call(request, region, names)
    target = request.header("X-Amz-Target")
    content_type = request.header("Content-Type") or ""
    if target:
        operation = target.rsplit(".", 1)[-1]
        handler = _JSON_SERVICES.get(service)
        if handler is None:
            raise UnknownCall(f"{service}.{operation}: no IAM mapping for {service}")
        described = Described(service, operation, handler(call, operation, call.json()))
    elif service == "s3":
        described = _s3(call)
    elif service == "lambda":
        described = _lambda(call)
    elif "x-www-form-urlencoded" in content_type or (
        request.method == "GET" and "Action=" in request.path
    ):
        form = call.form()
        operation = form.get("Action", "?")
        handler = _QUERY_SERVICES.get(service)
        if handler is None:
            raise UnknownCall(f"{service}.{operation}: no IAM mapping for {service}")
        described = Described(service, operation, handler(call, operation, form))
    else:
        raise UnknownCall(f"{service} {request.method} {urlsplit(request.path).path}: unknown")
    region_key = {"aws:RequestedRegion": region}
    return Described(
        described.service,
        described.operation,
        [access.with_context(region_key) for access in described.needs],
        described.reads_object,
    )


@dataclass(frozen=True)
class _Call:
    request: Request
    region: str
    names: StackNames

    @property
    def account(self) -> str:
        return self.names.account

    def json(self) -> dict[str, Any]:
        try:
            document = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise UnknownCall("the body is not JSON") from exc
        if not isinstance(document, dict):
            raise UnknownCall("the body is not a JSON object")
        return document

    def form(self) -> dict[str, str]:
        text = self.request.body.decode("utf-8", "replace") or urlsplit(self.request.path).query
        return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"


def _required(document: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in document:
        raise UnknownCall(f"{what}: no {key}")
    return document[key]


# ---------------------------------------------------------------- DynamoDB
_ITEM_ACTIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}
_TRANSACT_WRITES = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_EQUALITY = re.compile(r"([#:]?[\w.-]+)\s*=\s*([#:]?[\w.-]+)")


def _attribute_value(value: Any) -> str:
    if isinstance(value, Mapping) and len(value) == 1:
        ((kind, item),) = value.items()
        if kind in {"S", "N", "B"}:
            return str(item)
    raise UnknownCall(f"a key attribute that is not a string, number or binary: {value!r}")


def _dynamodb_table(call: _Call, table: str) -> tuple[str, str]:
    """(table name, table ARN) of a TableName (a name or an ARN)."""
    if table.startswith("arn:"):
        return table.rsplit("/", 1)[-1], table
    return table, call.arn("dynamodb", f"table/{table}")


def _table_keys(call: _Call, table: str) -> TableKeys:
    keys = call.names.tables.get(table)
    if keys is None:
        raise UnknownCall(f"table {table} is not the stack's: its key schema is unknown")
    return keys


def _item_context(
    call: _Call, table: str, key: Mapping[str, Any], body: Mapping[str, Any]
) -> dict[str, ContextValue]:
    partition = _table_keys(call, table).partition_key
    context: dict[str, ContextValue] = {
        "dynamodb:LeadingKeys": [_attribute_value(key[partition])] if partition in key else []
    }
    for name in ("ReturnValues", "ReturnConsumedCapacity", "Select"):
        if name in body:
            context[f"dynamodb:{name}"] = str(body[name])
    return context


def _query_leading_key(body: Mapping[str, Any], partition: str) -> list[str]:
    names = body.get("ExpressionAttributeNames", {})
    values = body.get("ExpressionAttributeValues", {})
    for left, right in _EQUALITY.findall(str(body.get("KeyConditionExpression", ""))):
        for name, value in ((left, right), (right, left)):
            if names.get(name, name) == partition and value.startswith(":") and value in values:
                return [_attribute_value(values[value])]
    legacy = body.get("KeyConditions", {}).get(partition)
    if legacy and legacy.get("ComparisonOperator") == "EQ":
        return [_attribute_value(legacy["AttributeValueList"][0])]
    return []


def _dynamodb(call: _Call, operation: str, body: dict[str, Any]) -> list[Access]:
    if operation in _ITEM_ACTIONS:
        table, arn = _dynamodb_table(call, str(_required(body, "TableName", operation)))
        key = _required(body, "Item" if operation == "PutItem" else "Key", operation)
        return [Access(f"dynamodb:{operation}", arn, _item_context(call, table, key, body))]
    handlers = {
        "Query": _dynamodb_read,
        "Scan": _dynamodb_read,
        "TransactWriteItems": _dynamodb_transaction,
        "TransactGetItems": _dynamodb_transaction,
        "BatchGetItem": _dynamodb_batch,
        "BatchWriteItem": _dynamodb_batch,
    }
    if operation in handlers:
        return handlers[operation](call, operation, body)
    if operation in {"DescribeTable", "DescribeTimeToLive"}:
        _, arn = _dynamodb_table(call, str(_required(body, "TableName", operation)))
        return [Access(f"dynamodb:{operation}", arn)]
    raise UnknownCall(f"dynamodb.{operation}: no IAM mapping")


def _dynamodb_read(call: _Call, operation: str, body: dict[str, Any]) -> list[Access]:
    """A Query or Scan: of the table, or of one of its indexes (its own resource)."""
    table, arn = _dynamodb_table(call, str(_required(body, "TableName", operation)))
    keys = _table_keys(call, table)
    context: dict[str, ContextValue] = {}
    partition = keys.partition_key
    if "IndexName" in body:
        index = str(body["IndexName"])
        if index not in keys.index_partition_keys:
            raise UnknownCall(f"index {index} of {table} is not the stack's")
        arn, partition = f"{arn}/index/{index}", keys.index_partition_keys[index]
    if operation == "Query":
        context["dynamodb:LeadingKeys"] = _query_leading_key(body, partition)
    if "Select" in body:
        context["dynamodb:Select"] = str(body["Select"])
    return [Access(f"dynamodb:{operation}", arn, context)]


def _dynamodb_transaction(call: _Call, operation: str, body: dict[str, Any]) -> list[Access]:
    """No action of its own: each item's (PutItem, UpdateItem, ...) on its table."""
    needs = []
    for item in _required(body, "TransactItems", operation):
        ((kind, spec),) = item.items()
        action = "GetItem" if kind == "Get" else _TRANSACT_WRITES.get(kind)
        if action is None:
            raise UnknownCall(f"{operation}: an item of kind {kind}")
        table, arn = _dynamodb_table(call, str(spec["TableName"]))
        key = spec["Item"] if kind == "Put" else spec["Key"]
        needs.append(Access(f"dynamodb:{action}", arn, _item_context(call, table, key, spec)))
    return needs


def _dynamodb_batch(call: _Call, operation: str, body: dict[str, Any]) -> list[Access]:
    needs = []
    for table_name, spec in _required(body, "RequestItems", operation).items():
        table, arn = _dynamodb_table(call, str(table_name))
        partition = _table_keys(call, table).partition_key
        keys = (
            spec.get("Keys", [])
            if operation == "BatchGetItem"
            else [
                request.get("PutRequest", {}).get("Item")
                or request.get("DeleteRequest", {}).get("Key", {})
                for request in spec
            ]
        )
        leading = [_attribute_value(key[partition]) for key in keys if partition in key]
        needs.append(Access(f"dynamodb:{operation}", arn, {"dynamodb:LeadingKeys": leading}))
    return needs


# ---------------------------------------------------------------- EventBridge
def _events(call: _Call, operation: str, body: dict[str, Any]) -> list[Access]:
    if operation != "PutEvents":
        raise UnknownCall(f"events.{operation}: no IAM mapping")
    needs = []
    for entry in _required(body, "Entries", operation):
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}")
        context: dict[str, ContextValue] = {
            "events:source": str(entry.get("Source", "")),
            "events:detail-type": str(entry.get("DetailType", "")),
        }
        needs.append(Access("events:PutEvents", arn, context))
    return needs


# ---------------------------------------------------------------- Secrets Manager, SSM
def _secretsmanager(call: _Call, operation: str, body: dict[str, Any]) -> list[Access]:
    if operation not in {"GetSecretValue", "DescribeSecret"}:
        raise UnknownCall(f"secretsmanager.{operation}: no IAM mapping")
    secret = str(_required(body, "SecretId", operation))
    arn = secret if secret.startswith("arn:") else call.names.secrets.get(secret)
    if arn is None:
        raise UnknownCall(f"secret {secret} is not the stack's: its ARN is unknown")
    context: dict[str, ContextValue] = {"secretsmanager:SecretId": secret}
    for name in ("VersionId", "VersionStage"):
        if name in body:
            context[f"secretsmanager:{name}"] = str(body[name])
    return [Access(f"secretsmanager:{operation}", arn, context)]


def _parameter_arn(call: _Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return call.arn("ssm", f"parameter{name}" if name.startswith("/") else f"parameter/{name}")


def _ssm(call: _Call, operation: str, body: dict[str, Any]) -> list[Access]:
    match operation:
        case "GetParameter":
            names = [str(_required(body, "Name", operation))]
        case "GetParameters":
            names = [str(name) for name in _required(body, "Names", operation)]
        case "GetParametersByPath":
            names = [str(_required(body, "Path", operation))]
        case _:
            raise UnknownCall(f"ssm.{operation}: no IAM mapping")
    return [Access(f"ssm:{operation}", _parameter_arn(call, name)) for name in names]


# ---------------------------------------------------------------- SQS
_SQS_ACTIONS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
    "GetQueueUrl": "GetQueueUrl",
}


def _queue_arn(call: _Call, url: str) -> str:
    parts = urlsplit(url).path.strip("/").split("/")
    if len(parts) != 2:
        raise UnknownCall(f"queue URL {url} names no account and queue")
    account, name = parts
    return f"arn:aws:sqs:{call.region}:{account}:{name}"


def _sqs(call: _Call, operation: str, body: Mapping[str, Any]) -> list[Access]:
    action = _SQS_ACTIONS.get(operation)
    if action is None:
        raise UnknownCall(f"sqs.{operation}: no IAM mapping")
    if operation == "GetQueueUrl":
        owner = str(body.get("QueueOwnerAWSAccountId") or call.account)
        name = str(_required(body, "QueueName", operation))
        arn = f"arn:aws:sqs:{call.region}:{owner}:{name}"
    else:
        arn = _queue_arn(call, str(_required(body, "QueueUrl", operation)))
    return [Access(f"sqs:{action}", arn)]


# ---------------------------------------------------------------- SES (query protocol)
def _ses(call: _Call, operation: str, form: dict[str, str]) -> list[Access]:
    if operation not in {"SendEmail", "SendRawEmail"}:
        raise UnknownCall(f"ses.{operation}: no IAM mapping")
    if "Source" not in form:
        raise UnknownCall(f"ses.{operation} without Source: the From header is not read")
    display, address = parseaddr(form["Source"])
    verified = set(call.names.ses_identities())
    domain = address.rpartition("@")[2]
    identity = domain if address not in verified and domain in verified else address
    recipients = sorted(
        {
            parsed
            for key, value in form.items()
            if key.startswith(("Destination.", "Destinations.member."))
            for _, parsed in getaddresses([value])
        }
    )
    context: dict[str, ContextValue] = {
        "ses:FromAddress": address,
        "ses:Recipients": recipients,
        "ses:ApiVersion": "1",
    }
    if display:
        context["ses:FromDisplayName"] = display
    if "ReturnPath" in form:
        context["ses:FeedbackAddress"] = form["ReturnPath"]
    return [Access(f"ses:{operation}", call.arn("ses", f"identity/{identity}"), context)]


def _sts(call: _Call, operation: str, form: dict[str, str]) -> list[Access]:
    if operation == "GetCallerIdentity":
        return []  # no permission is needed, nor can one be denied
    raise UnknownCall(f"sts.{operation}: no IAM mapping")


# ---------------------------------------------------------------- Lambda
def _lambda(call: _Call) -> Described:
    invoked = INVOKE_PATH.match(call.request.path)
    if call.request.method != "POST" or invoked is None:
        raise UnknownCall(f"lambda {call.request.method} {urlsplit(call.request.path).path}")
    name = function_name_of(invoked["name"])
    qualifier = parse_qs(urlsplit(call.request.path).query).get("Qualifier", [""])[0]
    arn = call.arn("lambda", f"function:{name}" + (f":{qualifier}" if qualifier else ""))
    return Described("lambda", "Invoke", [Access("lambda:InvokeFunction", arn)])


# ---------------------------------------------------------------- S3 (REST, path style)
_OBJECT_SUBRESOURCES_UNKNOWN = {
    "acl",
    "attributes",
    "legal-hold",
    "restore",
    "retention",
    "select",
    "torrent",
}


def _s3_object_context(request: Request) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    for header, key in (
        ("x-amz-server-side-encryption", "s3:x-amz-server-side-encryption"),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        ),
        ("x-amz-acl", "s3:x-amz-acl"),
        ("x-amz-storage-class", "s3:x-amz-storage-class"),
        ("If-None-Match", "s3:if-none-match"),
        ("If-Match", "s3:if-match"),
    ):
        value = request.header(header)
        if value is not None:
            context[key] = value
    tagging = request.header("x-amz-tagging")
    if tagging is not None:
        tags = {
            key: values[-1] for key, values in parse_qs(tagging, keep_blank_values=True).items()
        }
        context["s3:RequestObjectTagKeys"] = sorted(tags)
        context.update({f"s3:RequestObjectTag/{key}": value for key, value in tags.items()})
    return context


def _s3(call: _Call) -> Described:
    request = call.request
    parts = urlsplit(request.path)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, raw_key = parts.path.lstrip("/").partition("/")
    if not bucket:
        raise UnknownCall(f"s3 {request.method} /: ListBuckets, or a virtual-hosted-style call")
    if not raw_key:
        return _s3_bucket(call, f"arn:aws:s3:::{bucket}", query)
    key = unquote(raw_key)
    unknown = _OBJECT_SUBRESOURCES_UNKNOWN & set(query)
    if unknown:
        raise UnknownCall(f"s3 {request.method} ?{sorted(unknown)[0]}: no IAM mapping")
    target = _S3Object(request, f"arn:aws:s3:::{bucket}/{key}", query)
    if "uploadId" in query or ("uploads" in query and request.method == "POST"):
        found = target.multipart()
    elif "tagging" in query:
        found = target.tagging()
    else:
        found = target.plain()
    if found is None:
        raise UnknownCall(f"s3 {request.method} on an object with {sorted(query)}: no IAM mapping")
    operation, needs = found
    reads = (bucket, key) if operation in {"GetObject", "HeadObject"} else None
    return Described("s3", operation, needs, reads)


@dataclass(frozen=True)
class _S3Object:
    """An object operation's needs: (operation, accesses), or None if not known."""

    request: Request
    arn: str
    query: dict[str, list[str]]

    @property
    def context(self) -> dict[str, ContextValue]:
        return _s3_object_context(self.request)

    def _write(self, *, tags: bool = True) -> list[Access]:
        """s3:PutObject, and s3:PutObjectTagging for a write that sets tags."""
        context = self.context
        accesses = [Access("s3:PutObject", self.arn, context)]
        if tags and "s3:RequestObjectTagKeys" in context:
            accesses.append(Access("s3:PutObjectTagging", self.arn, context))
        return accesses

    def multipart(self) -> tuple[str, list[Access]] | None:
        copy = self.request.header("x-amz-copy-source")
        operations: dict[str, tuple[str, list[Access]]] = {
            "PUT": (
                ("UploadPartCopy", [*self._write(tags=False), _copy_source(self.request)])
                if copy
                else ("UploadPart", self._write(tags=False))
            ),
            "DELETE": ("AbortMultipartUpload", [Access("s3:AbortMultipartUpload", self.arn)]),
            "GET": ("ListParts", [Access("s3:ListMultipartUploadParts", self.arn)]),
        }
        if "uploadId" not in self.query:
            return "CreateMultipartUpload", self._write()
        if self.request.method == "POST":
            return "CompleteMultipartUpload", self._write(tags=False)
        return operations.get(self.request.method)

    def tagging(self) -> tuple[str, list[Access]] | None:
        suffix = "VersionTagging" if "versionId" in self.query else "Tagging"
        verb = {"GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(
            self.request.method
        )
        if verb is None:
            return None
        return f"{verb}Tagging", [Access(f"s3:{verb}{suffix}", self.arn)]

    def plain(self) -> tuple[str, list[Access]] | None:
        versioned = "versionId" in self.query
        method = self.request.method
        if method in {"GET", "HEAD"}:
            plain = all(
                name in {"versionId", "partNumber"} or name.startswith("response-")
                for name in self.query
            )
            action = "s3:GetObjectVersion" if versioned else "s3:GetObject"
            operation = "GetObject" if method == "GET" else "HeadObject"
            return (operation, [Access(action, self.arn)]) if plain else None
        if method == "DELETE":
            action = "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"
            return "DeleteObject", [Access(action, self.arn)]
        if method != "PUT" or self.query:
            return None
        if self.request.header("x-amz-copy-source"):
            replaces_tags = self.request.header("x-amz-tagging-directive") == "REPLACE"
            return "CopyObject", [
                *self._write(tags=replaces_tags),
                _copy_source(self.request),
            ]
        accesses = self._write()
        if self.request.header("x-amz-acl") or any(
            name.lower().startswith("x-amz-grant-") for name, _ in self.request.headers
        ):
            accesses.append(Access("s3:PutObjectAcl", self.arn, self.context))
        return "PutObject", accesses


def _copy_source(request: Request) -> Access:
    source = unquote(request.header("x-amz-copy-source") or "").lstrip("/")
    path, _, version = source.partition("?versionId=")
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    return Access(action, f"arn:aws:s3:::{path}")


def _s3_bucket(call: _Call, bucket_arn: str, query: dict[str, list[str]]) -> Described:
    method = call.request.method
    listing = {
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "continuation-token",
        "start-after",
        "marker",
        "encoding-type",
        "fetch-owner",
    }
    if method == "GET" and set(query) <= listing:
        context: dict[str, ContextValue] = {
            f"s3:{name}": query[name][-1]
            for name in ("prefix", "delimiter", "max-keys")
            if name in query
        }
        operation = "ListObjectsV2" if "list-type" in query else "ListObjects"
        return Described("s3", operation, [Access("s3:ListBucket", bucket_arn, context)])
    if method == "GET" and "uploads" in query:
        return Described(
            "s3", "ListMultipartUploads", [Access("s3:ListBucketMultipartUploads", bucket_arn)]
        )
    if method == "GET" and "versions" in query:
        return Described("s3", "ListObjectVersions", [Access("s3:ListBucketVersions", bucket_arn)])
    if method == "HEAD" and not query:
        return Described("s3", "HeadBucket", [Access("s3:ListBucket", bucket_arn)])
    if method == "POST" and "delete" in query:
        return Described("s3", "DeleteObjects", _delete_objects(call, bucket_arn))
    raise UnknownCall(f"s3 {method} on a bucket with {sorted(query)}: no IAM mapping")


def _delete_objects(call: _Call, bucket_arn: str) -> list[Access]:
    try:
        # a request the local caller signed, parsed only to name its keys
        document = ElementTree.fromstring(call.request.body)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise UnknownCall("DeleteObjects: the body is not XML") from exc
    needs = []
    for element in document.iter():
        if element.tag.rsplit("}", 1)[-1] != "Object":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in element}
        action = "s3:DeleteObjectVersion" if fields.get("VersionId") else "s3:DeleteObject"
        needs.append(Access(action, f"{bucket_arn}/{fields.get('Key', '')}"))
    return needs


_JSON_SERVICES: dict[str, Callable[[_Call, str, dict[str, Any]], list[Access]]] = {
    "dynamodb": _dynamodb,
    "events": _events,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "sqs": _sqs,
}
_QUERY_SERVICES: dict[str, Callable[[_Call, str, dict[str, str]], list[Access]]] = {
    "ses": _ses,
    "sqs": _sqs,
    "sts": _sts,
}
