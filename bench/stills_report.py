#!/usr/bin/env python3
"""bench/stills_report.py - figures of bench/stills.sh from its scan output.

  stills_report.py unverified SCAN.jsonl PREFIX   paths of stills under PREFIX
      that count for the combined evidence but whose own signature did not verify
  stills_report.py report OUTDIR RESULT_PREFIX QUICK THREADS   writes RESULT_PREFIX.md/.json
"""
import json
import math
import os
import re
import sys
from collections import defaultdict

TAU = 1e-6  # FM_SCAN_FILE_TAU (common/scan_stats.h)


def load(scan):
    hits, errors, summary = {}, {}, None
    with open(scan) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            if "summary" in o:
                summary = o["summary"]
            elif "error" in o:
                errors[o["file"]] = o["error"]
            else:
                hits[o["file"]] = o
    return hits, errors, summary


def binom_tail_log10(n, p, k):
    """log10 P(Bin(n, p) >= k), exact (as common/scan_stats.c)."""
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    lp, lq = math.log(p), math.log1p(-p)
    terms = []
    for j in range(k, n + 1):
        t = math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq
        terms.append(t)
        if j > k + 50 and t < terms[0] - 50:
            break
    m = max(terms)
    return (m + math.log(sum(math.exp(t - m) for t in terms))) / math.log(10)


def k_needed(n, target=-9.0):
    k = 1
    while binom_tail_log10(n, TAU, k) > target:
        k += 1
    return k


def unverified(scan, prefix):
    hits, _, _ = load(scan)
    for f in sorted(hits):
        h = hits[f]
        if f.startswith(prefix) and h.get("counted") and not h.get("signature_valid"):
            print(f)


def read_time(path):
    try:
        e, u, s = open(path).read().split()[-3:]
        return float(e), float(u), float(s)
    except (OSError, ValueError):
        return None


def read_text(path):
    return open(path).read().strip() if os.path.exists(path) else ""


def report(out, dest, quick, threads):
    hits, errors, summary = load(os.path.join(out, "scan.jsonl"))
    files = [l.strip() for l in open(os.path.join(out, "list.txt")) if l.strip()]
    marked = [f for f in files if f.startswith("marked/")]
    unmarked = [f for f in files if f.startswith("unmarked/")]
    n_read = summary["files_read"] if summary else len(files) - len(errors)
    groups = defaultdict(lambda: {"n": 0, "found": 0, "signature": 0, "counted": 0, "z": []})
    rx = re.compile(r"marked/([a-z]+)_(\d+)_q(\d+)_\d+\.jpg$")
    for f in marked:
        m = rx.match(f)
        key = (m.group(1), int(m.group(2)), int(m.group(3)))
        g = groups[key]
        g["n"] += 1
        h = hits.get(f)
        if h:
            g["found"] += bool(h["found"])
            g["signature"] += bool(h["signature_valid"] and h["title_id"] == 77)
            g["counted"] += bool(h["counted"])
            g["z"].append(h["pilot_z"])
    fa = [f for f in unmarked if f in hits and hits[f]["found"]]
    weak = [f for f in unmarked if f in hits and hits[f]["counted"]]
    wrong_title = [f for f in marked if f in hits and hits[f]["signature_valid"] and hits[f]["title_id"] != 77]
    kn = {n: k_needed(n) for n in (n_read, 10**6, 10**8)}
    rows = []
    for (clip, size, q), g in sorted(groups.items(), key=lambda x: (x[0][0], -x[0][1], -x[0][2])):
        r = g["counted"] / g["n"]
        z = sorted(g["z"])
        rows.append({
            "clip": clip, "size": size, "quality": q, "stills": g["n"],
            "found": g["found"], "signature_valid": g["signature"], "counted": g["counted"],
            "median_pilot_z_of_hits": z[len(z) // 2] if z else None,
            "stills_needed": {str(n): (math.ceil(k / r) if r > 0 else None) for n, k in kn.items()},
        })
    joint = []
    jp = os.path.join(out, "joint.txt")
    if os.path.exists(jp):
        for line in open(jp):
            p = line.split()
            if len(p) == 6:
                joint.append({"clip": p[0], "size": int(p[1]), "quality": int(p[2][1:]),
                              "stills": int(p[3]), "pooled": int(p[4]), "signature_valid": bool(int(p[5]))})
    st = read_time(os.path.join(out, "setup.time"))
    slp = os.path.join(out, "speed_list.txt")
    nsp = sum(1 for _ in open(slp)) if os.path.exists(slp) else 0
    speed = []
    for t in sorted({1, int(threads)}):
        sp = read_time(os.path.join(out, "speed%d.time" % t))
        if not (sp and st and nsp):
            continue
        cpu = sp[1] + sp[2] - (st[1] + st[2])
        speed.append({"threads": t, "stills": nsp, "wall_s": sp[0], "cpu_s": cpu,
                      "setup_cpu_s": st[1] + st[2], "setup_wall_s": st[0],
                      "stills_per_cpu_second": nsp / cpu if cpu > 0 else None,
                      "stills_per_wall_second": nsp / (sp[0] - st[0]) if sp[0] > st[0] else None,
                      "load": read_text(os.path.join(out, "load_speed%d.txt" % t))})
    scan_t = read_time(os.path.join(out, "scan.time"))
    load_txt = read_text(os.path.join(out, "load.txt"))
    res = {
        "quick": bool(int(quick)), "files": len(files), "files_read": n_read, "unreadable": len(errors),
        "marked_stills": len(marked), "unmarked_images": len(unmarked),
        "false_alarms_unmarked": len(fa), "false_alarm_files": fa,
        "unmarked_counted_p_le_tau": len(weak), "expected_counted_unmarked": len(unmarked) * TAU,
        "wrong_title": len(wrong_title), "file_threshold_tau": TAU,
        "k_needed_for_1e-9": {str(n): k for n, k in kn.items()},
        "per_still": rows, "joint_decoding": joint, "speed_512px": speed,
        "scan": {"wall_s": scan_t[0], "cpu_s": scan_t[1] + scan_t[2]} if scan_t else None,
        "load": load_txt, "origin": read_text(os.path.join(out, "origin.txt")), "summary": summary,
    }
    with open(dest + ".json", "w") as f:
        json.dump(res, f, indent=1)
    L = []
    L.append("# Stills and dataset scanning (bench/stills.sh%s)\n" % (" --quick" if res["quick"] else ""))
    L.append("Marked stills: two frames a second of deliverables of real clips (one key, title 77), "
             "centre-cropped to a square, scaled (no up-scaling), JPEG at ffmpeg `-q:v 3` / `-q:v 8` "
             "(quantisation tables nearest IJG quality 91 / 75: \"q90\" / \"q75\"). "
             "Mixed with %d unmarked images; %d files scanned in one `wmdetect --scan` (%d read, "
             "%d unreadable).\n" % (len(unmarked), len(files), n_read, len(errors)))
    origin = read_text(os.path.join(out, "origin.txt"))
    if origin:
        L.append("Tools at %s.\n" % origin.replace("\n", "; "))
    L.append("**False alarms over the %d unmarked images: %d** (found alone: p <= 1e-9 or a valid "
             "signature). Unmarked images counted for the combined evidence (p <= %g): %d "
             "(expected at most %.3f). Marked stills with a verified signature naming another "
             "title: %d.\n" % (len(unmarked), len(fa), TAU, len(weak), len(unmarked) * TAU, len(wrong_title)))
    L.append("## Per still\n")
    L.append("*found*: p <= 1e-9 alone (16384 hypotheses: 4 shift/flip candidates x 4096 epochs); "
             "*signature*: the signed payload verifies (title 77); *counted*: p <= %g, counts for "
             "the combined evidence. *Stills needed*: expected number of such stills of one title "
             "for a combined p <= 1e-9, i.e. k / (counted rate), with k the count the binomial tail "
             "needs among N files scanned (k = %s for N = %s).\n"
             % (TAU, ", ".join(str(k) for k in kn.values()), ", ".join("%g" % n for n in kn)))
    L.append("| clip | size | JPEG | stills | found | signature | counted | median pilot z | stills needed (N = %s) |"
             % " / ".join("%g" % n for n in kn))
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        n = r["stills"]
        L.append("| %s | %d | q%d | %d | %d (%.0f %%) | %d (%.0f %%) | %d (%.0f %%) | %s | %s |" % (
            r["clip"], r["size"], r["quality"], n, r["found"], 100 * r["found"] / n,
            r["signature_valid"], 100 * r["signature_valid"] / n, r["counted"], 100 * r["counted"] / n,
            "%.1f" % r["median_pilot_z_of_hits"] if r["median_pilot_z_of_hits"] is not None else "-",
            " / ".join(str(v) if v is not None else "-" for v in r["stills_needed"].values())))
    L.append("")
    if joint:
        L.append("## Joint decoding (stills whose own signature does not verify)\n")
        L.append("The first k counted 512-px stills of one deliverable whose own signature did not "
                 "verify, scanned together: the summary sums their soft coded bits and decodes.\n")
        L.append("| clip | JPEG | k stills | signature of the sum |")
        L.append("|---|---|---|---|")
        for j in joint:
            L.append("| %s | q%d | %d | %s |" % (j["clip"], j["quality"], j["stills"],
                                                "verifies" if j["signature_valid"] else "no"))
        L.append("")
    L.append("## Speed\n")
    kinds = sorted({re.sub(r"_\d+\.jpg$", "", os.path.basename(l.strip())) for l in open(slp)}) if nsp else []
    if speed:
        L.append("%d unmarked 512-px JPEGs spread over %s; CPU = user + system, without the "
                 "%.2f s CPU (%.2f s wall) of the set-up per key (an empty scan). The machine is "
                 "shared: the load average (uptime) before and after each run is given.\n"
                 % (speed[0]["stills"], ", ".join(kinds), speed[0]["setup_cpu_s"], speed[0]["setup_wall_s"]))
        L.append("| threads | wall s | CPU s | stills per CPU second | stills per wall second | load before / after |")
        L.append("|---|---|---|---|---|---|")
        for r in speed:
            L.append("| %d | %.1f | %.2f | **%.0f** | %.0f | `%s` |" % (
                r["threads"], r["wall_s"], r["cpu_s"], r["stills_per_cpu_second"] or 0,
                r["stills_per_wall_second"] or 0, r["load"].replace("\n", "` / `")))
        L.append("")
    if scan_t:
        L.append("The whole scan (%s threads, niced): %.0f s wall, %.0f s CPU for %d files of mixed sizes "
                 "(%.1f ms CPU per file; marked stills are also decoded). Load before / after: `%s`.\n"
                 % (threads, scan_t[0], scan_t[1] + scan_t[2], len(files),
                    1000 * (scan_t[1] + scan_t[2]) / max(1, len(files)), load_txt.replace("\n", "` / `")))
    if summary:
        L.append("## The scan's summary\n")
        L.append("```json\n%s\n```" % json.dumps(summary, indent=1))
    with open(dest + ".md", "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "unverified":
        unverified(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else 2)
    else:
        sys.exit(__doc__)
