#!/usr/bin/env bash
# The local Lambda loop, on a fresh machine, no AWS account: moto's server on loopback with an SNS
# topic and an SQS queue subscribed to it, the functions under cargo-lambda's emulator
# (`cargo lambda watch`, which rebuilds on every save), an invoke of each function with a sample
# event from events/<function>/, and what SNS delivered to the queue after each invoke.
#
#   scripts/local.sh                      every function under functions/, one sample event each
#   scripts/local.sh FUNCTION [EVENT]     one function, with EVENT (a JSON file; default: its sample)
#   scripts/local.sh --keep [FUNCTION]    leave moto and the emulator running and print the commands
#                                         to invoke by hand (Ctrl-C stops both)
#
# The functions are the directories under functions/: a new one needs nothing here. Its sample
# is the first events/<function>/*.json unless `sample` below names a better one.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && { keep=true; shift; }

all=()
for dir in functions/*/; do all+=("$(basename "$dir")"); done
# The sample that shows each function best against an empty moto (one message each).
sample() {
  case "$1" in
    log-alert) echo events/log-alert/plain-errors.json ;;
    scan-alert) echo events/scan-alert/inspector2-finding.json ;;
    task-alert) echo events/task-alert/exit-1.json ;;
    ecr-rescan) echo events/ecr-rescan/empty.json ;;
    *) find "events/$1" -maxdepth 1 -name '*.json' 2>/dev/null | sort | head -n 1 ;;
  esac
}
if [ $# -gt 0 ]; then
  [ -d "functions/$1" ] || { echo "no function $1; the functions: ${all[*]}" >&2; exit 2; }
  functions=("$1")
  event="${2:-$(sample "$1")}"
else
  functions=("${all[@]}")
  event=""
fi
for fn in "${functions[@]}"; do
  ev="${event:-$(sample "$fn")}"
  [ -f "$ev" ] || { echo "no sample event for $fn (looked for events/$fn/*.json): pass one" >&2; exit 2; }
done

# Only what running a function needs: moto (and boto3) and cargo-lambda (requirements/local.txt).
# The CI tools (SAM CLI, cfn-lint, checkov) are scripts/test.sh's.
scripts/setup.sh local
export PATH="$PWD/.venv/bin:$PATH"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
moto_port="$(free_port)"
watch_port="$(free_port)"
logs="$(mktemp -d)"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What the functions read (the region is required: Lambda sets it, a local run must too).
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing MESSAGE_FORMAT=text

echo "-- moto on $AWS_ENDPOINT_URL"
setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$logs/moto.log" 2>&1 &
pids+=($!)

# Creates the topic and a queue subscribed to it, once moto answers; prints the topic ARN.
ALERT_TOPIC_ARN="$(python3 - <<'EOF'
import time, urllib.request, os, boto3
for _ in range(200):
    try:
        urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
sns, sqs = (boto3.client(s, region_name=os.environ["AWS_REGION"]) for s in ("sns", "sqs"))
topic = sns.create_topic(Name="lookout-local")["TopicArn"]
queue = sqs.create_queue(QueueName="lookout-local")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
print(topic)
EOF
)"
export ALERT_TOPIC_ARN
echo "   topic $ALERT_TOPIC_ARN, queue lookout-local subscribed"

echo "-- cargo lambda watch -P $watch_port (the first invoke of each function compiles a debug build)"
setsid cargo lambda watch -P "$watch_port" >"$logs/watch.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $watch_port), 1)" 2>/dev/null && break
  sleep 0.5
done

# Invokes one function and prints what SNS delivered to the queue for it.
invoke() {
  local function="$1" event="$2"
  echo
  echo "\$ cargo lambda invoke $function --data-file $event -A 127.0.0.1 -P $watch_port"
  if ! cargo lambda invoke "$function" --data-file "$event" -A 127.0.0.1 -P "$watch_port"; then
    echo "invoke failed; the emulator's log:" >&2
    tail -n 30 "$logs/watch.log" >&2
    exit 1
  fi
  echo
  echo "-- what SNS delivered to the queue"
  python3 - <<'EOF'
import json, os, boto3
sqs = boto3.client("sqs", region_name=os.environ["AWS_REGION"])
queue = sqs.get_queue_url(QueueName="lookout-local")["QueueUrl"]
messages = []
while True:
    batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    if not batch:
        break
    messages += batch
    sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
for m in messages:
    envelope = json.loads(m["Body"])
    print(f"\nSubject: {envelope.get('Subject')}")
    print(envelope["Message"])
print(f"({len(messages)} message{'' if len(messages) == 1 else 's'} delivered)")
EOF
}

if $keep; then
  echo
  echo "moto and the emulator are running. In another shell:"
  echo "  export PATH=\"$PWD/.venv/bin:\$PATH\""
  for fn in "${functions[@]}"; do
    echo "  cargo lambda invoke $fn --data-file ${event:-$(sample "$fn")} -A 127.0.0.1 -P $watch_port"
  done
  echo "The emulator's log (function output included): $logs/watch.log. Ctrl-C stops both."
  wait
  exit 0
fi

for fn in "${functions[@]}"; do
  invoke "$fn" "${event:-$(sample "$fn")}"
done

echo
echo "-- the functions' warnings (the emulator sends a deadline in 1970; the functions run on a fixed budget)"
sed 's/\x1b\[[0-9;]*m//g' "$logs/watch.log" | grep ' WARN ' | grep -v AWS_LAMBDA_MAX_CONCURRENCY || true
