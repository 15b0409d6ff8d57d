#!/usr/bin/env python3
"""Cold-start proxy: time from process start to the first request to a local Lambda Runtime API stub.

  scripts/lambda_init.py BINARY [--runs 20] [--event FILE]

Starts BINARY (a Lambda bootstrap, e.g. target/release/cadence-sweeper) with AWS_LAMBDA_RUNTIME_API pointing
at a stub implementing GET /2018-06-01/runtime/invocation/next and the response/error endpoints, and records:
init = process start → first GET /next (what Lambda bills as Init), first = → the first response or error
POST (the first invocation; it talks to AWS, here to a closed port, so it ends in an error quickly).
Dummy AWS credentials and the sweeper's environment are set; no AWS endpoint is contacted during init."""
import argparse, json, os, statistics, subprocess, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("binary"); ap.add_argument("--runs", type=int, default=20); ap.add_argument("--event", default=None)
a = ap.parse_args()
event = open(a.event, "rb").read() if a.event else b'{"id":"init-bench","detail-type":"Scheduled Event","source":"aws.scheduler"}'
state = {}
cond = threading.Condition()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *x): pass
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            with cond:
                n = state.setdefault("next", [])
                n.append(time.monotonic()); cond.notify_all()
                if len(n) > 1:  # park the second poll until the run is torn down
                    cond.wait(timeout=5)
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{len(state['next'])}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:cadence-sweeper")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(event))); self.end_headers(); self.wfile.write(event)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with cond:
            state.setdefault("done", time.monotonic()); state.setdefault("kind", self.path.rsplit("/", 1)[-1]); cond.notify_all()
        self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()

class Quiet(ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, *x): pass  # killed clients reset their connections

env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="cadence-sweeper",
           AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
           AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/cadence-sweeper", AWS_LAMBDA_LOG_STREAM_NAME="bench",
           AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_EC2_METADATA_DISABLED="true",
           AWS_ENDPOINT_URL="http://127.0.0.1:9", CADENCE_TABLE="cadence", CADENCE_TOUCH_QUEUE_URL="http://127.0.0.1:9/q",
           CADENCE_TOUCH_QUEUE_ARN="arn:aws:sqs:us-east-1:123456789012:touches", CADENCE_SCHEDULE_GROUP="cadence",
           CADENCE_SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/s", CADENCE_SCHEDULER_DLQ_ARN="arn:aws:sqs:us-east-1:123456789012:dlq",
           RUST_LOG="error")
inits, firsts, kinds = [], [], []
for _ in range(a.runs):
    # A fresh stub per run, so a late request from the previous process cannot count.
    state = {}
    srv = Quiet(("127.0.0.1", 0), H); threading.Thread(target=srv.serve_forever, daemon=True).start()
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{srv.server_address[1]}"
    t0 = time.monotonic()
    p = subprocess.Popen([a.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with cond:
        cond.wait_for(lambda: "done" in state or p.poll() is not None, timeout=30)
    if state.get("next"):
        inits.append((state["next"][0] - t0) * 1000)
    if "done" in state:
        firsts.append((state["done"] - t0) * 1000); kinds.append(state["kind"])
    p.kill(); p.wait()
    with cond: cond.notify_all()
    srv.shutdown(); srv.server_close()
med = lambda v: round(statistics.median(v), 2) if v else None
print(json.dumps({"binary": a.binary, "runs": a.runs, "init_ms_median": med(inits),
                  "init_ms_min": round(min(inits), 2) if inits else None, "init_ms_max": round(max(inits), 2) if inits else None,
                  "first_invocation_done_ms_median": med(firsts), "first_outcome": sorted(set(kinds)),
                  "size_bytes": os.path.getsize(a.binary)}))
