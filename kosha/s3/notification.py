"""Get/PutBucketNotificationConfiguration (`?notification`) over the bucket's configuration.

S3 configuration ↔ Kosha's canonical form (kosha/notify/rules.py)::

    QueueConfiguration / TopicConfiguration / CloudFunctionConfiguration  ↔ type queue/topic/function
    Id                                                                    ↔ id
    Queue / Topic / CloudFunction (the target's ARN)                      ↔ arn
    Event (repeated)                                                      ↔ events
    Filter/S3Key/FilterRule Name=prefix|suffix, Value                     ↔ prefix, suffix

An ARN that names no configured target is S3's 400 InvalidArgument "Unable to validate the
destination configuration"; an empty `<NotificationConfiguration/>` removes the configuration.
EventBridge is NotImplemented.
"""

from __future__ import annotations

from typing import Any

from ..errors import Invalid, NotImplementedYet
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

KINDS = (("QueueConfiguration", "Queue", "queue"), ("TopicConfiguration", "Topic", "topic"),
         ("CloudFunctionConfiguration", "CloudFunction", "function"))
MAX_BODY = 256 * 1024


def parse(body: bytes) -> list[dict[str, Any]]:
    root = xml.parse(body, root="NotificationConfiguration")
    if xml.child(root, "EventBridgeConfiguration") is not None:
        raise NotImplementedYet("EventBridge notifications are not supported",
                                s3_code="NotImplemented")
    configs: list[dict[str, Any]] = []
    for element, arn_name, kind in KINDS:
        for node in xml.children(root, element):
            arn = xml.text(node, arn_name)
            if arn is None:
                raise xml.malformed()
            config: dict[str, Any] = {"type": kind, "arn": arn.strip(),
                                      "events": [(e.text or "").strip()
                                                 for e in xml.children(node, "Event")]}
            config_id = xml.text(node, "Id")
            if config_id is not None and config_id.strip():
                config["id"] = config_id.strip()
            config.update(_filter(node))
            configs.append(config)
    return configs


def _filter(node: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    filt = xml.child(node, "Filter")
    if filt is None:
        return found
    key = xml.child(filt, "S3Key")
    for rule in xml.children(key, "FilterRule") if key is not None else []:
        name = (xml.text(rule, "Name") or "").strip().lower()
        if name not in ("prefix", "suffix"):
            raise Invalid("filter rule name must be either prefix or suffix",
                          s3_code="InvalidArgument", ArgumentName="FilterRule.Name",
                          ArgumentValue=name)
        if name in found:
            raise Invalid(f"Cannot specify more than one {name} rule in a filter.",
                          s3_code="InvalidArgument", ArgumentName="FilterRule.Name",
                          ArgumentValue=name)
        found[name] = xml.text(rule, "Value") or ""
    return found


def document(configs: list[dict[str, Any]]) -> bytes:
    arn_names = {kind: (element, arn_name) for element, arn_name, kind in KINDS}
    items = []
    for config in configs:
        element, arn_name = arn_names.get(config.get("type", "queue"), arn_names["queue"])
        parts = [f"<{element}>", el("Id", config["id"]), el(arn_name, config["arn"])]
        parts += [el("Event", e) for e in config["events"]]
        rules = [f"<FilterRule>{el('Name', n)}{el('Value', config[n])}</FilterRule>"
                 for n in ("prefix", "suffix") if config.get(n)]
        if rules:
            parts.append("<Filter><S3Key>" + "".join(rules) + "</S3Key></Filter>")
        parts.append(f"</{element}>")
        items.append("".join(parts))
    return xml.doc("NotificationConfiguration", items)


async def get_bucket_notification(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    return xml_response(document(await req.kosha.notifications.get_config(req.principal, bucket.name)))


async def put_bucket_notification(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    configs = parse(await req.read_body(MAX_BODY))
    await req.kosha.notifications.put_config(req.principal, bucket.name, configs)
    return empty_response(200)
