"""The Python shape of log-alert, as a typical team writes it: boto3, gzip, json, one publish.
Used only as the baseline in the cold-start harness (tests/src/bin/coldstart.rs); it runs its
own minimal Lambda Runtime API loop, as a provided runtime would."""
import base64
import gzip
import json
import os
import urllib.request

import boto3

sns = boto3.client("sns")
TOPIC = os.environ["ALERT_TOPIC_ARN"]
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"


def handler(event):
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if payload["messageType"] == "CONTROL_MESSAGE":
        return {"status": "acknowledged"}
    events = payload["logEvents"]
    lines = [f"{e['timestamp']} {e['message']}" for e in events]
    body = f"{len(events)} events in {payload['logGroup']}\n\n" + "\n".join(lines)
    body = body.encode()[:250_000].decode("utf-8", "ignore")
    subject = f"[ERROR] {len(events)} events in {payload['logGroup']}"[:99]
    sns.publish(TopicArn=TOPIC, Subject=subject, Message=body)
    return {"status": "published", "events": len(events)}


while True:
    with urllib.request.urlopen(API + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    try:
        result, outcome = json.dumps(handler(event)).encode(), "/response"
    except Exception as e:  # what a runtime does: report the error, take the next event
        result, outcome = json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)[:200]}).encode(), "/error"
    urllib.request.urlopen(urllib.request.Request(API + request_id + outcome, data=result, method="POST")).read()
