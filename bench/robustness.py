#!/usr/bin/env python3
"""Helper of bench/robustness.sh (standard library only).

  robustness.py verdict DETECT_JSON TITLE RECIPIENT[,RECIPIENT2]
      prints "1" when the clip was recovered (found, signature valid, right
      title and recipient), else "0"; then the pilot z.
  robustness.py record OUT_JSON key=value ...
      writes one attack's result; values ending in .json that name a file are
      read as JSON; keys with a dot (excerpt.2=...) build nested objects.
  robustness.py clip OUT_JSON key=value ...
      same, for a clip's metadata.
  robustness.py report RESULTS_JSON RESULTS_MD CLIP_DIR... [--no-merge]
      merges the clips' results into RESULTS_JSON (attack by attack, keeping
      rows of earlier runs that this run did not redo) and rewrites RESULTS_MD.
"""
import json
import math
import os
import sys

KIND_NAMES = {
    "none": "none", "codec": "codec", "geometry": "geometry", "signal": "signal",
    "time": "time", "capture": "capture", "collusion": "collusion",
    "ai": "AI-neural", "ai-proxy": "AI-proxy",
}
CLIP_ORDER = ["sample", "dune_1080p24", "raindrops_1080p24", "storm_720p25",
              "vtest_768x576", "elephants_2160p24", "dune_1080p24_prores422hq"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def recovered(d, title, recipients):
    if not isinstance(d, dict):
        return False
    return bool(d.get("found")) and bool(d.get("signature_valid")) \
        and d.get("title_id") == title and d.get("recipient_id") in recipients


STRING_KEYS = {"id", "kind", "label", "date", "commit", "machine", "settings", "source",
               "pix_fmt", "name", "key_fingerprint", "quality_error"}


def parse_value(v, key=""):
    if key in STRING_KEYS:
        return v
    if v.endswith(".json") and os.path.isfile(v):
        return load(v)
    if v == "":
        return None
    for conv in (int, float):
        try:
            x = conv(v)
            if conv is float and not math.isfinite(x):
                return v
            return x
        except ValueError:
            pass
    if v in ("true", "false"):
        return v == "true"
    return v


def build(pairs):
    out = {}
    for p in pairs:
        k, _, v = p.partition("=")
        node = out
        parts = k.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts[-1] in ("notes",):  # repeated keys accumulate
            node.setdefault(parts[-1], [])
            if v:
                node[parts[-1]].append(v)
        else:
            node[parts[-1]] = parse_value(v, parts[-1])
    return out


# ---------------------------------------------------------------- formatting
def fmt_p(d):
    if not isinstance(d, dict):
        return "—"
    lg = d.get("false_alarm_log10")
    if lg is None:
        p = d.get("false_alarm_probability")
        return "—" if p is None else f"{p:.2g}"
    if lg > -3:
        return f"{10 ** lg:.2g}"
    e = math.floor(lg)
    m = 10 ** (lg - e)
    if m >= 9.95:
        m, e = 1.0, e + 1
    return f"{m:.1f}e{e}"


def fmt_ber(d):
    if not isinstance(d, dict) or d.get("raw_bit_error_rate") is None:
        return "—"
    return f"{100 * d['raw_bit_error_rate']:.1f} %"


def geometry_note(d):
    g = (d or {}).get("geometry") or {}
    bits = []
    sx, sy = g.get("scale_x", 1.0), g.get("scale_y", 1.0)
    if sx is not None and sy is not None and (abs(sx - 1) > 0.002 or abs(sy - 1) > 0.002):
        bits.append(f"scale {sx:.3f}×{sy:.3f}")
    ox, oy = g.get("offset_x", 0) or 0, g.get("offset_y", 0) or 0
    if abs(ox) > 0.5 or abs(oy) > 0.5:
        bits.append(f"offset {ox:.0f},{oy:.0f}")
    if g.get("flip_h"):
        bits.append("flip h")
    if g.get("flip_v"):
        bits.append("flip v")
    if abs(g.get("rotation_deg", 0) or 0) > 0.01:
        bits.append(f"rot {g['rotation_deg']:.2f}°")
    return ("geometry " + ", ".join(bits)) if bits else ""


def verdict_text(r):
    st = r.get("status")
    if st == "not_run":
        return "not run"
    if st == "error":
        return "error"
    d = r.get("detect")
    if r.get("recovered"):
        if r.get("kind") == "collusion" and isinstance(d, dict):
            return f"**yes** (recipient {d.get('recipient_id')})"
        return "**yes**"
    if isinstance(d, dict) and d.get("found") and d.get("signature_valid"):
        return "NO — wrong ids!"
    if r.get("detect_rc") == 3:
        return "no (present, unverified)"
    return "no"


def excerpt_text(r):
    if not r.get("recovered"):
        return "—"
    ex = r.get("excerpt") or {}
    s = ex.get("shortest")
    full = r.get("attacked", {}).get("duration")
    if s in (None, "full"):
        return f"full ({full:.1f} s)" if isinstance(full, (int, float)) else "full"
    return f"{s} s"


def notes_text(r, clip_run):
    n = []
    d = r.get("detect")
    if isinstance(d, dict) and r.get("status") == "ok":
        if d.get("pilot_z") is not None:
            n.append(f"z {d['pilot_z']:.1f}")
        if d.get("receipt_z") is not None:
            n.append(f"receipt z {d['receipt_z']:.1f}")
    a = r.get("attacked") or {}
    if a.get("width"):
        n.append(f"{a['width']}x{a['height']}")
    if a.get("kbps"):
        n.append(f"{a['kbps']:.0f} kb/s")
    g = geometry_note(d) if r.get("status") == "ok" else ""
    if g:
        n.append(g)
    n.extend(r.get("notes") or [])
    if r.get("detect_seconds") is not None and r.get("status") == "ok":
        n.append(f"detect {r['detect_seconds']:.1f} s")
    run = r.get("run") or {}
    if clip_run and run and (run.get("date"), run.get("commit")) != \
            (clip_run.get("date"), clip_run.get("commit")):
        n.append(f"from an earlier run ({run.get('date')}, {run.get('commit')})")
    return "; ".join(x.replace("|", "\\|") for x in n)


def clip_sort_key(name):
    return (CLIP_ORDER.index(name) if name in CLIP_ORDER else len(CLIP_ORDER), name)


def write_md(res, path):
    L = []
    L.append("# filmmark robustness benchmark")
    L.append("")
    L.append("Generated by `bench/robustness.sh` (do not edit by hand). Every attack is "
             "applied with the ffmpeg CLI to the VP9 deliverable made by `wmembed` at "
             "default strength; non-codec attacks are re-encoded with libx264 CRF 23. "
             "`wmdetect --json --receipt` then reads the attacked file.")
    L.append("")
    L.append("* **recovered**: found, signature valid, and the right title and recipient "
             "ids (collusion: either colluder's).")
    L.append("* **raw BER**: bit error rate before error correction, against the receipt's "
             "message (format 2's code decodes up to ~19 %, the polar code of formats 3-6 "
             "up to ~29 %: each clip's section says which format its run read).")
    L.append("* **false-alarm p**: the detector's probability that an unmarked clip scores "
             "as high (all geometry hypotheses counted).")
    L.append("* **shortest excerpt**: the first of 2, 5, 10 s (from the start, "
             "`--duration`) that still recovers; *full* when the clip is not longer.")
    L.append("* z = pilot z; receipt z = informed correlation with the receipt; "
             "detect = wall-clock seconds of the full-clip `wmdetect` run (with the "
             "parallel jobs each clip's run line gives, so timings are indicative; see "
             "speed.md).")
    L.append("")
    for name in sorted(res.get("clips", {}), key=clip_sort_key):
        c = res["clips"][name]
        run = c.get("run") or {}
        L.append(f"## {name}")
        L.append("")
        m = c.get("master") or {}
        L.append(f"* master: `{m.get('source')}`"
                 + (f", first {m.get('duration'):.1f} s" if m.get("trimmed") else
                    f", {m.get('duration', 0):.1f} s")
                 + f", {m.get('width')}x{m.get('height')}, {m.get('fps')} fps, {m.get('pix_fmt')}")
        L.append(f"* run: {run.get('date')}, commit `{run.get('commit')}`, "
                 f"{run.get('machine')}"
                 + (f"; took {run['seconds'] / 60:.1f} min" if isinstance(run.get("seconds"), (int, float)) else "")
                 + (f" ({run['settings']})" if run.get("settings") else ""))
        e = c.get("embed") or {}
        q = c.get("quality") or {}
        if e:
            L.append(f"* embed (VP9 default, strength {e.get('strength')}): "
                     f"{e.get('fps', 0):.2f} fps ({e.get('frames')} frames in "
                     f"{e.get('seconds', 0):.1f} s); wmembed: luma PSNR "
                     f"{e.get('luma_psnr_db', 0):.2f} dB, SSIM {e.get('luma_ssim', 0):.4f} "
                     "(mark only, before encoding)")
        if q and q.get("luma_psnr_db") is not None:
            L.append(f"* ffmpeg psnr/ssim, deliverable vs master (mark + VP9 coding): luma PSNR "
                     f"{q['luma_psnr_db']:.2f} dB (worst frame {q.get('luma_psnr_min_db') or 0:.2f}), "
                     f"SSIM {q.get('luma_ssim', 0):.4f} over {q.get('frames')} frames")
        elif c.get("quality_error"):
            L.append(f"* ffmpeg psnr/ssim: failed ({c['quality_error']})")
        atk = sorted(c.get("attacks", {}).values(), key=lambda r: r.get("index", 999))
        # what the detections say they read (runs before 0.6 recorded no format)
        fmts = sorted({(r.get("detect") or {}).get("mark_format") for r in atk} - {None})
        vers = sorted({(r.get("detect") or {}).get("version") for r in atk} - {None})
        L.append("* mark format read: "
                 + (", ".join(str(f) for f in fmts) if fmts else "not recorded (an older run: see its commit)")
                 + (f" (wmdetect {', '.join(vers)})" if vers else ""))
        ran = [r for r in atk if r.get("status") == "ok"]
        ok = [r for r in ran if r.get("recovered")]
        L.append(f"* recovered {len(ok)} of {len(ran)} attacks run"
                 + (f" ({len(atk) - len(ran)} not run or failed)" if len(atk) != len(ran) else ""))
        L.append("")
        L.append("| attack | kind | recovered | raw BER | false-alarm p | shortest excerpt | notes |")
        L.append("| --- | --- | --- | --- | --- | --- | --- |")
        for r in atk:
            d = r.get("detect") if r.get("status") == "ok" else None
            L.append("| " + " | ".join([
                r.get("label", r.get("id", "?")).replace("|", "\\|"),
                KIND_NAMES.get(r.get("kind"), r.get("kind", "")),
                verdict_text(r), fmt_ber(d), fmt_p(d), excerpt_text(r),
                notes_text(r, run)]) + " |")
        L.append("")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(L))
    os.replace(tmp, path)


def report(args):
    merge = "--no-merge" not in args
    args = [a for a in args if a != "--no-merge"]
    rjson, rmd, clipdirs = args[0], args[1], args[2:]
    res = (load(rjson) if merge else None) or {}
    res.setdefault("generator", "bench/robustness.sh")
    res.setdefault("clips", {})
    for cd in clipdirs:
        c = load(os.path.join(cd, "clip.json"))
        if not c:
            continue
        attacks = {}
        rdir = os.path.join(cd, "r")
        for fn in sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []:
            if fn.endswith(".json"):
                r = load(os.path.join(rdir, fn))
                if r:
                    attacks[r["id"]] = r
        old = res["clips"].get(c["name"]) if merge else None
        if old and (old.get("master") or {}).get("duration") == (c.get("master") or {}).get("duration"):
            merged = dict(old.get("attacks", {}))
            merged.update(attacks)
            attacks = merged
        c["attacks"] = attacks
        res["clips"][c["name"]] = c
        res["updated"] = (c.get("run") or {}).get("date")
    tmp = rjson + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, rjson)
    write_md(res, rmd)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "verdict":
        d = load(args[0])
        recips = [int(x) for x in args[2].split(",")]
        z = (d or {}).get("pilot_z")
        print("1" if recovered(d, int(args[1]), recips) else "0",
              "nan" if z is None else f"{z:.2f}")
    elif cmd in ("record", "clip"):
        out = build(args[1:])
        tmp = args[0] + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, args[0])
    elif cmd == "report":
        report(args)
    else:
        sys.exit(f"robustness.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
