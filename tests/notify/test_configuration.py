"""A bucket's notification configuration: S3 and KOS REST read and write the same one, checked
as AWS checks it, and only by those allowed to."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.notify.helpers import HOOK_ARN, REGION, bucket_name, configure

API = "/kos/v1"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_s3_configuration_round_trips(s3: Any, bucket: str) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], prefix="in/",
              suffix=".csv")
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"] == [{
        "Id": "cfg-1", "QueueArn": HOOK_ARN,
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                           {"Name": "suffix", "Value": ".csv"}]}}}]


def test_topic_and_function_configurations_keep_their_kind(s3: Any, bucket: str) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "TopicConfigurations": [{"Id": "t", "TopicArn": HOOK_ARN, "Events": ["s3:ObjectCreated:Put"]}],
        "LambdaFunctionConfigurations": [{"Id": "f", "LambdaFunctionArn": HOOK_ARN,
                                          "Events": ["s3:ObjectRemoved:*"]}]})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["Id"] for c in got["TopicConfigurations"]] == ["t"]
    assert [c["Id"] for c in got["LambdaFunctionConfigurations"]] == ["f"]


def test_a_configuration_without_id_gets_one(s3: Any, bucket: str) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": HOOK_ARN, "Events": ["s3:ObjectCreated:*"]}]})
    [config] = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert config["Id"]


def test_empty_configuration_clears_it(s3: Any, bucket: str) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*"])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "QueueConfigurations" not in got


def test_new_bucket_has_an_empty_configuration(s3: Any, bucket: str) -> None:
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert {k for k in got if k != "ResponseMetadata"} == set()


def test_unknown_arn_is_refused_as_aws_does(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        configure(s3, bucket, ["s3:ObjectCreated:*"], arn=f"arn:kosha:sqs:{REGION}:nope:webhook")
    assert error_of(exc) == ("InvalidArgument", "Unable to validate the destination configuration")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("event", ["s3:ObjectCreated:Nope", "ObjectCreated:*", "s3:*"])
def test_unknown_event_is_refused(s3: Any, bucket: str, event: str) -> None:
    with pytest.raises(ClientError) as exc:
        configure(s3, bucket, [event])
    assert error_of(exc)[0] == "InvalidArgument"


def test_two_prefix_rules_are_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": HOOK_ARN, "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [
                                         {"Name": "prefix", "Value": "a"},
                                         {"Name": "prefix", "Value": "b"}]}}}]})
    assert error_of(exc) == ("InvalidArgument", "Cannot specify more than one prefix rule in a filter.")


def test_a_refused_configuration_leaves_the_old_one(s3: Any, bucket: str) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*"])
    with pytest.raises(ClientError):
        configure(s3, bucket, ["s3:ObjectCreated:*"], arn="arn:kosha:sqs:x:y:z")
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"][0]["QueueArn"] == HOOK_ARN


def test_rest_extension_round_trips_and_matches_s3(admin: Any, s3: Any, bucket: str) -> None:
    body = {"configurations": [{"id": "r", "type": "queue", "arn": HOOK_ARN,
                                "events": ["s3:ObjectRemoved:*"], "prefix": "logs/", "suffix": ""}]}
    put = admin.put(f"{API}/buckets/{bucket}/notifications", json=body)
    assert put.status_code == 200, put.text
    assert put.json() == body
    assert admin.get(f"{API}/buckets/{bucket}/notifications").json() == body
    [config] = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert (config["Id"], config["Events"]) == ("r", ["s3:ObjectRemoved:*"])


def test_rest_extension_refuses_an_unknown_arn(admin: Any, bucket: str) -> None:
    answer = admin.put(f"{API}/buckets/{bucket}/notifications", json={"configurations": [
        {"arn": "arn:kosha:sqs:x:missing:webhook", "events": ["s3:ObjectCreated:*"]}]})
    assert answer.status_code == 400
    assert answer.json()["message"] == "Unable to validate the destination configuration"


def test_rest_extension_is_marked_in_openapi(notify_server: Any) -> None:
    import httpx
    doc = httpx.get(f"{notify_server.kos_url}/openapi.json").json()
    path = doc["paths"]["/kos/v1/buckets/{bucketId}/notifications"]
    assert path["get"]["x-kosha-extension"] and path["put"]["x-kosha-extension"]


def test_another_account_cannot_read_the_configuration(notify_server: Any, bucket: str) -> None:
    root = notify_server.operator()
    stranger = notify_server.new_user(root, notify_server.new_account(root), admin=True)
    assert stranger.get(f"{API}/buckets/{bucket}/notifications").status_code == 404
    stranger.close()
    root.close()


def test_member_needs_the_notification_actions(notify_server: Any, admin: Any, s3: Any) -> None:
    from tests.notify.helpers import s3_for
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    root = notify_server.operator()
    member = notify_server.new_user(root, admin.account_id)
    member_s3 = s3_for(notify_server, member)
    with pytest.raises(ClientError) as exc:
        configure(member_s3, name, ["s3:ObjectCreated:*"])
    assert error_of(exc)[0] == "AccessDenied"
    policy = admin.post(f"{API}/account/policies", json={
        "name": f"notify-{name}", "statements": [{"effect": "Allow", "actions": [
            "kos:PutBucketNotification", "kos:GetBucketNotification"], "resources": ["*"]}]})
    assert policy.status_code == 201, policy.text
    krn = policy.json()["policyKRN"]
    attach = admin.post(f"{API}/account/policies/attach",
                        json={"policyKRNs": [krn], "users": [member.kcid]})
    assert attach.status_code == 200, attach.text
    configure(member_s3, name, ["s3:ObjectCreated:*"])
    assert member_s3.get_bucket_notification_configuration(Bucket=name)["QueueConfigurations"]
    member.close()
    root.close()


def test_operator_lists_targets_with_secrets_masked(notify_server: Any, receiver: Any) -> None:
    root = notify_server.operator()
    answer = root.get("/internal/kos/v1/notification-targets")
    assert answer.status_code == 200
    [target] = answer.json()["targets"]
    assert target == {"id": "hook", "kind": "webhook", "arn": HOOK_ARN,
                      "url": f"{receiver.url}?secret=***"}
    root.close()


def test_targets_are_for_the_operator_only(admin: Any) -> None:
    assert admin.get("/internal/kos/v1/notification-targets").status_code == 403


def test_secret_is_not_in_the_server_log(notify_server: Any) -> None:
    assert "s3cr3t" not in notify_server.log()
