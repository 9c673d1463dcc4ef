#!/usr/bin/env python3
"""Tabulates bench/attacks.sh results (JSON lines from detect.py) into attacks.md/.json."""
import argparse
import json
import os
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("--results", required=True)
ap.add_argument("--embed")
ap.add_argument("--estimate")
ap.add_argument("--md", required=True)
ap.add_argument("--json", required=True)
ap.add_argument("--commit", default="unknown")
ap.add_argument("--bin-commit", default="")
ap.add_argument("--command", default="")
ap.add_argument("--seconds", default="")
ap.add_argument("--excerpts", default="")
ap.add_argument("--copy-excerpts", default="")
ap.add_argument("--master", default="")
ap.add_argument("--timing", default="")
ap.add_argument("--quick", default="0")
ap.add_argument("--fold", default="", help="the attacker's fold mode (default: the estimate's, else tile)")
ap.add_argument("--date", default="", help="the run's date (when re-tabulating an earlier run)")
a = ap.parse_args()


def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


recs = [json.loads(l) for l in open(a.results) if l.strip().startswith("{")]
embed = load(a.embed) if a.embed else {}
est = load(a.estimate) if a.estimate else {}
timing = dict(kv.split("=") for kv in a.timing.split(",") if "=" in kv)
fold = a.fold or est.get("fold") or "tile"

# (group, attack key, label, kind); kind: remove | copy | baseline
ROWS = [
    ("none", "temporal-n1", "none: the marked copy, excerpt cut", "baseline"),
    ("a", "remove-all", "(a) estimate from all frames, subtracted", "remove"),
    ("b", "remove-epoch", "(b) one estimate per epoch, subtracted from its epoch", "remove"),
    ("b", "remove-const", "(b) constant part (median of the epoch estimates), subtracted", "remove"),
    ("b", "remove-cluster", "(b) epoch variants clustered by correlation, subtracted", "remove"),
    ("d", "remove-fdiff", "(d) frame-difference chain estimate per epoch, subtracted", "remove"),
    ("e", "steer-const", "(e) weight steering: constant part subtracted in every other cell, then re-encoded (--steer-codec)", "remove"),
    ("e", "steer-all", "(e) weight steering: all-frames estimate subtracted in every other cell, then re-encoded (--steer-codec)", "remove"),
    ("d", "temporal-n2", "(d) temporal low-pass, mean of 2 frames", "remove"),
    ("d", "temporal-n3", "(d) temporal low-pass, mean of 3 frames", "remove"),
    ("d", "temporal-n5", "(d) temporal low-pass, mean of 5 frames", "remove"),
    ("c", "target-n1", "unmarked copy target as it is (control)", "copy"),
    ("c", "copy-all", "(c) copy: all-frames estimate added to unmarked video", "copy"),
    ("c", "copy-epoch", "(c) copy: per-epoch estimates, in epoch order", "copy"),
    ("c", "copy-first1s", "(c) copy: estimate from the first 1 s", "copy"),
]


def akey(r):
    if r["attack"].startswith("temporal") or r["attack"].startswith("target"):
        return r["attack"].split("-")[0] + "-" + r["strength"]
    return r["attack"]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def sig_issued(r):
    """The signature verifies with the issued ids (older detect.py lines: exit 0 only)."""
    if "sig_issued" in r:
        return r["sig_issued"]
    return bool(r.get("verified"))


def verdicts(vs):
    """'bound 2, mismatch 1' from a list of binding verdicts (None: no signature)."""
    c = {}
    for v in vs:
        if v is not None:
            c[v] = c.get(v, 0) + 1
    return ", ".join("%s %d" % kv for kv in sorted(c.items())) or "–"


def fmt(x, f="%.1f"):
    return "–" if x is None else f % x


rows = []
for (group, key, label, kind) in ROWS:
    rs = [r for r in recs if akey(r) == key]
    strengths = []
    for r in rs:
        if r["strength"] not in strengths:
            strengths.append(r["strength"])
    for s in strengths:
        g = [r for r in rs if r["strength"] == s]
        n = len(g)
        mses = [10 ** (-r["psnr"] / 10) for r in g if r.get("psnr") is not None]
        psnr = -10 * __import__("math").log10(sum(mses) / len(mses)) if mses else None
        row = {
            "group": group, "attack": key, "label": label, "kind": kind, "strength": s,
            "psnr": round(psnr, 2) if psnr is not None else None,
            "psnr_min": min((r["psnr_min"] for r in g if r.get("psnr_min") is not None), default=None),
            "excerpts": n,
            "verified": sum(1 for r in g if r.get("verified")),
            "exit0": sum(1 for r in g if r.get("exit") == 0),
            # the signature verifies with the issued ids, whatever the binding says
            "signature_verified": sum(1 for r in g if sig_issued(r)),
            # signature verified, content tag contradicts the pictures: exit 4
            "transplanted": sum(1 for r in g if r.get("exit") == 4 and r.get("signature_valid")),
            # signature verified, binding inconclusive / not checked: exit 3
            "binding_unconfirmed": sum(1 for r in g if r.get("exit") == 3 and r.get("signature_valid")),
            # a mark seen (p <= 1e-9), no payload whose signature verifies: exit 3
            "detected_unverified": sum(1 for r in g if r.get("exit") == 3 and not r.get("signature_valid")),
            "exit1": sum(1 for r in g if r.get("exit") == 1),
            "errors": sum(1 for r in g if r.get("exit") not in (0, 1, 3, 4)),
            "median_pilot_z": med([r.get("pilot_z") for r in g]),
            "median_raw_ber": med([r.get("raw_bit_error_rate") for r in g]),
            "binding_verdicts": [r.get("binding_verdict") for r in g],
            # wmdetect's status word (verified, named, unbound, named_unbound, ...)
            "statuses": [r.get("status") for r in g],
            # exit 0 with the issued ids and their signature read from the clip
            "verified_signed": sum(1 for r in g if r.get("verified") and r.get("signature_valid")),
            # exit 0 with the issued ids but no signature read: named from the registry
            "named_exit0": sum(1 for r in g if r.get("exit") == 0 and not r.get("signature_valid")),
            # exit 4 with no signature read: named from the registry, content contradicts
            "named_exit4": sum(1 for r in g if r.get("exit") == 4 and not r.get("signature_valid")),
            "median_binding_z": med([r.get("binding_z") for r in g]),
            "median_binding_agreement": med([r.get("binding_agreement") for r in g]),
            "per_excerpt": [{k: r.get(k) for k in ("start", "psnr", "exit", "status", "found", "signature_valid",
                                                      "pilot_z", "raw_bit_error_rate", "false_alarm_log10",
                                                      "title_id", "recipient_id", "mark_format",
                                                      "binding_verdict", "content_bound", "binding_z",
                                                      "binding_agreement", "binding_expected_z",
                                                      "binding_epochs", "alpha", "detect_seconds",
                                                      "error")} for r in g],
        }
        rows.append(row)


def order(r):
    return -(r["psnr"] if r["psnr"] is not None else 0)


# the highest PSNR at which each removal attack first removes the mark
summary = []
for (group, key, label, kind) in ROWS:
    rs = sorted([r for r in rows if r["attack"] == key], key=order)
    if not rs or kind == "baseline" or key.startswith("target"):
        continue
    if kind == "remove":
        gone = [r for r in rs if r["verified"] == 0]
        part = [r for r in rs if 0 < r["verified"] < r["excerpts"]]
        weakest = rs[0]["psnr"]
        if key.startswith("temporal"):
            res = "removed" if gone else ("partly removed" if part else "not removed")
        elif gone:
            g = gone[0]
            res = "no excerpt verifies at %.2f dB%s%s%s" % (
                g["psnr"], " (the weakest strength tried)" if g["psnr"] == weakest else "",
                "; the signature still verifies, binding unconfirmed or flagged (exit 3/4), in %d / %d" % (
                    g["signature_verified"], g["excerpts"]) if g["signature_verified"] else "",
                "; the detector still sees a mark, unread (exit 3), in %d / %d" % (g["detected_unverified"], g["excerpts"])
                if g["detected_unverified"] else "; no mark seen (exit 1)" if g["exit1"] == g["excerpts"] else "")
        elif part:
            res = "not removed everywhere; some excerpts fail from %.2f dB" % part[0]["psnr"]
        elif any(r["named_exit0"] for r in rs):
            n0 = [r for r in rs if r["named_exit0"]][0]
            res = ("exit 0 everywhere down to %.2f dB, but at %.2f dB the signature no longer "
                   "verifies in %d / %d: the recipient is named only from the run's registry "
                   "(exit 0, status named)" % (
                       rs[-1]["psnr"], n0["psnr"], n0["named_exit0"], n0["excerpts"]))
        else:
            ex = [x for r in rs for x in r["per_excerpt"] if x.get("pilot_z") is not None]
            wz = min(ex, key=lambda x: x["pilot_z"]) if ex else None
            wb = max((x.get("raw_bit_error_rate") or 0 for x in ex), default=None)
            res = "not removed down to %.2f dB%s" % (rs[-1]["psnr"], (
                " (weakest read: pilot z %.1f; most raw errors %.1f %%)" % (wz["pilot_z"], 100 * wb))
                if wz else "")
        first_gone = gone[0]["psnr"] if gone else None
        # 'verifies': exit 0 with the signature read from the clip (a registry naming is not)
        target = all(r["verified_signed"] == r["excerpts"] for r in rs if r["psnr"] is not None and r["psnr"] >= 38)
    else:
        # a forgery succeeds only with exit 0 (signature valid AND bound to the
        # new pictures); a valid signature flagged transplanted (exit 4) is a
        # forgery caught, exit 3 with a valid signature an unconfirmed binding
        forged = [r for r in rs if r["exit0"] > 0]
        if forged:
            res = "forgery succeeds at %.2f dB: %d / %d excerpts exit 0 with the stolen payload%s" % (
                forged[0]["psnr"], forged[0]["exit0"], forged[0]["excerpts"],
                " (%s)" % "; ".join("%.0f dB: exit 0 in %d / %d" % (r["psnr"], r["exit0"], r["excerpts"])
                                    for r in rs if r["psnr"] is not None) if len(rs) > 1 else "")
        else:
            res = "no exit 0 at any strength (%s)" % "; ".join(
                "%.0f dB: signature verified in %d / %d, flagged transplanted (exit 4) in %d, "
                "binding inconclusive (exit 3) in %d%s" % (
                    r["psnr"], r["signature_verified"], r["excerpts"], r["transplanted"],
                    r["binding_unconfirmed"],
                    ", named from the registry but contradicted (exit 4, no signature) in %d" %
                    r["named_exit4"] if r["named_exit4"] else "") for r in rs if r["psnr"] is not None)
        first_gone = forged[0]["psnr"] if forged else None
        target = not any(r["exit0"] for r in rs if r["psnr"] is not None and r["psnr"] >= 40)
    summary.append({"attack": key, "label": label, "kind": kind, "result": res,
                    "highest_psnr": first_gone, "meets_issue_target": target})

doc = {
    "date": a.date or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "commit": a.commit, "tools_commit": a.bin_commit or a.commit, "command": a.command,
    "quick": a.quick == "1", "master": os.path.basename(a.master), "marked_seconds": a.seconds,
    "fold": fold, "fold_period": est.get("period"),
    "excerpts": a.excerpts, "copy_excerpts": a.copy_excerpts,
    "embed": {k: embed.get(k) for k in ("frames", "width", "height", "luma_psnr_db", "luma_ssim",
                                         "fps", "seconds", "key_fingerprint", "payload")},
    "estimate": est, "timing_seconds": timing, "rows": rows, "summary": summary,
}
tmp = a.json + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=1)
os.replace(tmp, a.json)

fmts = sorted({r.get("mark_format") for r in recs if r.get("mark_format") is not None})
fmt_text = "mark format " + ", ".join(str(f) for f in fmts) if fmts else "mark format unknown"
L = []
L.append("# Attacks on the mark (keyless attacker)\n")
L.append("Made by `%s` on %s at commit `%s` (tools built at `%s`)%s. "
         "Attacks: `bench/attacks/*.py`; how they work: `bench/attacks.sh --help` and the scripts' "
         "docstrings.\n" % (a.command, doc["date"], a.commit, doc["tools_commit"],
                            " — **quick run**" if doc["quick"] else ""))
e = doc["embed"]
L.append("* Marked copy: the first %s s of `%s` (%s frames, %sx%s, 24 fps; real, varied content: "
         "`bench/make_long_master.sh`), `wmembed --codec ffv1`, luma PSNR %s dB, SSIM %s, "
         "payload title %s / recipient %s." % (
             a.seconds, doc["master"], e.get("frames"), e.get("width"), e.get("height"),
             fmt(e.get("luma_psnr_db"), "%.2f"), fmt(e.get("luma_ssim"), "%.4f"),
             (e.get("payload") or {}).get("title_id"), (e.get("payload") or {}).get("recipient_id")))
period = " x ".join(str(x) for x in est.get("period") or [])
L.append("* The attacker estimates from **all** of the marked copy (one pass, `estimate.py`), "
         "knowing the tile period (128 mark pixels = 384 px at 1080p), the 360-row mark grid and "
         "the 2-s epochs from master time 0; not the key. Fold: **%s** (`--fold %s`): %s." % (
             fold, fold,
             "the estimates are folded at the tile period (its repetitions over the picture averaged "
             "into one 128 x 128 tile)" if fold == "tile" else
             "the estimates are **not folded**: every mark-grid position is estimated on its own "
             "(one %s array, the grid padded to whole tiles): the fair attacker against format 7, "
             "whose tile repetitions carry their own signs" % (period or "grid-sized")))
L.append("* Each attacked copy is judged on 10-s excerpts starting at %s s (copy attacks: unmarked "
         "master after %s s, as `start@pretended master time`: %s), each run through "
         "`wmdetect -k KEY --json` **blind** (no receipt). *Verified* = exit 0 with the issued "
         "title and recipient. PSNR: luma, against the marked copy (copy attacks: against the "
         "unmarked target), over the excerpts' frames (mean-MSE PSNR; every frame is scaled to the "
         "target). `auto` = the attacker's own calibration of exact removal (the scale at which the "
         "high-passed, folded result no longer correlates with the estimate), one scale per 10 s; "
         "`auto-epoch` the same per epoch; `auto-null` per epoch with the picture's share of the "
         "correlation (measured on the neighbouring epochs) taken out; `auto-band` that, made for "
         "each of 48 frequency bands of the tile on its own; `*F` = F times the calibrated "
         "scale." % (
             ", ".join(x.split(":")[0] for x in a.excerpts.split(",")), a.seconds,
             ", ".join(x.replace(":10", "") for x in a.copy_excerpts.split(","))))
L.append("* Exit codes (%s, as read by this run's `wmdetect`): **0** = signature verifies and the "
         "mark is bound to the clip's pictures, or a content fingerprint recorded for the issuance "
         "(in the registry) matches the clip (status `verified`), or no signature is read but the "
         "registry's issued messages name the recipient (status `named`); **4** = the signature "
         "verifies but the mark's content tag or the issuance's recorded content fingerprint "
         "contradicts the pictures (status `unbound`, \"transplanted?\"), or a recipient named "
         "from the registry on pictures that are not the issuance's (status `named_unbound`); "
         "**3** = either the signature verifies but the binding cannot be confirmed "
         "(`inconclusive` / `not_checked`), or a mark is seen (p ≤ 10⁻⁹) but no payload whose "
         "signature verifies is read (*unread*: no recipient named); **1** = no mark. *Signature "
         "verified* counts the excerpts whose signed payload (the issued title and recipient) is "
         "read, whatever the binding says; *statuses* gives `wmdetect`'s status word per excerpt." % fmt_text)
L.append("* Copy attacks: only **exit 0** is a successful forgery (the stolen payload reported as "
         "issued for pictures that were never marked). A signature that verifies with exit 4 is a "
         "forgery **caught** (flagged transplanted); with exit 3 it is not accepted either, but not "
         "flagged. When the nominal read fails the detector searches geometries (10¹¹ and more "
         "hypotheses, ~10¹⁹ when its perspective search runs: `hypotheses_log10` in `--json`): the "
         "pilot z is then the best over that search, and its false-alarm probability is corrected "
         "for that number, so it needs a higher z than a nominal read.\n")
q = (est or {}).get("oracle_correlation")
if q:
    L.append("Quality of the attacker's estimates (diagnostic: correlation of each folded estimate "
             "with the true embedded signal, marked − master, folded the same way; median over "
             "epochs for per-epoch estimates): " + ", ".join(
                 "%s %.2f" % (k, v) for k, v in q.items()) + ".\n")
L.append("## Summary\n")
L.append("| attack | result | issue 7 target |")
L.append("| --- | --- | --- |")
for s in summary:
    tgt = ("every excerpt verifies above 38 dB" if s["kind"] == "remove" else "no exit 0 at ≥ 40 dB")
    L.append("| %s | %s | %s: %s |" % (s["label"], s["result"], tgt, "met" if s["meets_issue_target"] else "**not met**"))
L.append("\n## Every row\n")
L.append("| attack | strength | PSNR dB (worst frame) | exit 0 (issued ids) | signature verified | "
         "exit 4 (signature verified, flagged transplanted) | exit 4 (no signature, named from the "
         "registry, contradicted) | exit 3, signature verified (binding "
         "inconclusive) | exit 3 (mark seen, unread) | exit 1 | statuses | median pilot z | median raw BER | "
         "binding verdicts | median binding z / agreement |")
L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    L.append("| %s | %s | %s (%s) | %d / %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s / %s |" % (
        r["label"], r["strength"], fmt(r["psnr"], "%.2f"), fmt(r["psnr_min"], "%.2f"),
        r["exit0"], r["excerpts"], r["signature_verified"], r["transplanted"], r["named_exit4"],
        r["binding_unconfirmed"], r["detected_unverified"], r["exit1"], verdicts(r["statuses"]),
        fmt(r["median_pilot_z"]), fmt(r["median_raw_ber"] * 100 if r["median_raw_ber"] is not None else None, "%.1f %%"),
        verdicts(r["binding_verdicts"]), fmt(r["median_binding_z"]),
        fmt(r["median_binding_agreement"], "%.2f")))
errs = [(r["label"], r["strength"], x.get("error")) for r in rows for x in r["per_excerpt"] if x.get("error")]
if errs:
    L.append("\nErrors: " + "; ".join("%s %s: %s" % e for e in errs))
L.append("\nPer-excerpt figures (exit code, status, found, signature_valid, pilot z, raw bit error "
         "rate, false-alarm log10, binding verdict, z, agreement, expected z): `%s`." % os.path.basename(a.json))
if timing:
    cpu = ""
    if "cpu_prep" in timing:
        cpu = (" CPU time (user + sys of every process): %s s marking + estimation, %s s attacks and "
               "detection." % (timing.get("cpu_prep"), timing.get("cpu_attacks")))
    L.append("\nRun time: %s s wall in all (marking + estimation %s s, %s; attacks "
             "and detection %s s) on %s cores%s.%s" % (
                 timing.get("total"), timing.get("prep"),
                 ("the marked copy reused from an earlier run, whose wmembed took %s s" % timing.get("embed"))
                 if timing.get("reused") == "1" else "of which wmembed %s s" % timing.get("embed"),
                 timing.get("attacks"),
                 os.cpu_count(),
                 (", load average at the end %s (machine shared with other jobs)" % timing["load"])
                 if "load" in timing else "", cpu))
with open(a.md + ".tmp", "w") as f:
    f.write("\n".join(L) + "\n")
os.replace(a.md + ".tmp", a.md)
print("\n".join(L))
