#!/usr/bin/env python3
"""Run `wmdetect --json` blind (no receipt) on every attacked file named in JSON lines.

    ATTACK.py ... | detect.py --bin BUILD --key KEY.dkey [--jobs 1] [--keep]
                              [--title N --recipient N]

Reads the JSON lines the attack scripts print (one per output file), runs
wmdetect on each file as soon as its line arrives (--jobs at a time), and prints
the line again with the detection added: exit code, found, signature_valid,
pilot_z, raw_bit_error_rate, false_alarm_log10, the ids read, mark format 5's
binding to the pictures (status, binding_verdict, content_bound, binding_z,
binding_agreement, binding_expected_z, binding_epochs), whether they are the
issued ones, and the seconds wmdetect took. The file is deleted afterwards
unless --keep.

  verified     exit 0 with the issued title and recipient: the mark is read, its
               signature verifies AND (format 5) it is bound to these pictures
               (on a copy attack: a successful forgery)
  sig_issued   the signature verifies with the issued title and recipient,
               whatever the binding says (exit 0, 3 or 4)
  transplanted the signature verifies but the mark's content tag contradicts the
               pictures: exit 4, binding_verdict "mismatch" (a forgery caught)
  unconfirmed  the signature verifies but the binding cannot be confirmed:
               exit 3 with signature_valid (binding "inconclusive"/"not_checked")
  unread       exit 3 without a valid signature: a mark is seen, no payload read
"""
import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import threading
import time

ap = argparse.ArgumentParser(description="blind detection of attacked files")
ap.add_argument("--bin", required=True, help="folder holding wmdetect")
ap.add_argument("--key", required=True)
ap.add_argument("--jobs", type=int, default=1)
ap.add_argument("--keep", action="store_true")
ap.add_argument("--title", type=int)
ap.add_argument("--recipient", type=int)
ap.add_argument("--timeout", type=float, default=900)
a = ap.parse_args()
lock = threading.Lock()


def detect(rec):
    t0 = time.time()
    cmd = [os.path.join(a.bin, "wmdetect"), "-k", a.key, "--json", rec["file"]]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        rc, out, err = -1, "", "timeout"
    d = {}
    try:
        d = json.loads(out) if out.strip() else {}
    except ValueError:
        pass
    rec["exit"] = rc
    for k in ("found", "signature_valid", "pilot_z", "raw_bit_error_rate",
              "false_alarm_log10", "title_id", "recipient_id", "frames_read", "format",
              "mark_format", "status", "binding_verdict", "content_bound", "binding_z",
              "binding_agreement", "binding_expected_z", "binding_epochs"):
        if k in d:
            rec[k] = d[k]
    issued = ((a.title is None or d.get("title_id") == a.title)
              and (a.recipient is None or d.get("recipient_id") == a.recipient))
    sig = bool(d.get("signature_valid"))
    rec["verified"] = rc == 0 and issued
    rec["sig_issued"] = sig and issued and rc in (0, 3, 4)
    rec["transplanted"] = rc == 4 and sig
    rec["unconfirmed"] = rc == 3 and sig
    rec["unread"] = rc == 3 and not sig
    if rc not in (0, 1, 3, 4):
        rec["error"] = (err.strip().splitlines() or ["?"])[-1][:300]
    rec["detect_seconds"] = round(time.time() - t0, 1)
    if not a.keep:
        try:
            os.remove(rec["file"])
        except OSError:
            pass
    with lock:
        print(json.dumps(rec), flush=True)


with cf.ThreadPoolExecutor(max_workers=a.jobs) as pool:
    futs = []
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue
        futs.append(pool.submit(detect, json.loads(line)))
    for f in futs:
        f.result()
