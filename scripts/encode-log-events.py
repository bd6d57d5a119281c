#!/usr/bin/env python3
"""Writes events/log-alert/NAME.json (a CloudWatch Logs subscription event) from each
readable events/log-alert/decoded/NAME.json: compact JSON -> gzip -> base64 in awslogs.data."""
import base64, gzip, json, pathlib

root = pathlib.Path(__file__).resolve().parent.parent / "events" / "log-alert"
for src in sorted((root / "decoded").glob("*.json")):
    payload = json.dumps(json.loads(src.read_text()), ensure_ascii=False, separators=(",", ":"))
    data = base64.b64encode(gzip.compress(payload.encode(), mtime=0)).decode()
    (root / src.name).write_text(json.dumps({"awslogs": {"data": data}}, indent=2) + "\n")
    print(f"{src.name}: {len(payload)} bytes decoded, {len(data)} bytes of awslogs.data")
