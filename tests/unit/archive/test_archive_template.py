"""The archive's storage in template.yaml: the class it writes in, the lifecycle that
moves or expires objects, and the rights it needs (no tags: the hash is metadata)."""

from __future__ import annotations

from typing import Any, get_args

from round0_archive.bucket import StorageClass
from round0_testkit.template import TemplateStack, load_template


def stack(**parameters: str) -> TemplateStack:
    return TemplateStack(load_template(), parameters=dict(parameters))


def storage_class_written(local: TemplateStack) -> str:
    function = local.resources["ArchiveFunction"]["Properties"]
    return str(local.resolve(function["Environment"]["Variables"]["ARCHIVE_STORAGE_CLASS"]))


def interview_rule(local: TemplateStack) -> dict[str, Any]:
    bucket = local.resources["ArchiveBucket"]["Properties"]
    rules = local.resolve(bucket["LifecycleConfiguration"]["Rules"])
    [rule] = [rule for rule in rules if rule["Id"] == "expire-interviews"]
    return dict(rule)


def test_by_default_everything_is_written_in_intelligent_tiering_and_expires() -> None:
    local = stack()
    assert storage_class_written(local) == "INTELLIGENT_TIERING"
    rule = interview_rule(local)
    assert rule == {
        "Id": "expire-interviews",
        "Status": "Enabled",
        "Prefix": "interviews/",
        "ExpirationInDays": "365",
    }


def test_glacier_ir_writes_standard_and_moves_objects_after_the_days_chosen() -> None:
    local = stack(ArchiveStorageClass="GLACIER_IR", ArchiveGlacierAfterDays="45")
    assert storage_class_written(local) == "STANDARD"
    rule = interview_rule(local)
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": "45"}]
    assert rule["ExpirationInDays"] == "365"


def test_every_choice_gives_the_function_a_class_it_writes_in() -> None:
    parameter = load_template()["Parameters"]["ArchiveStorageClass"]
    assert parameter["Default"] == "INTELLIGENT_TIERING"
    written = {
        storage_class_written(stack(ArchiveStorageClass=value))
        for value in parameter["AllowedValues"]
    }
    assert written == set(get_args(StorageClass))


def test_the_archive_may_not_read_or_write_tags() -> None:
    [policy] = load_template()["Resources"]["ArchiveFunction"]["Properties"]["Policies"]
    actions = {
        action
        for statement in policy["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert not {action for action in actions if "Tagging" in action}
