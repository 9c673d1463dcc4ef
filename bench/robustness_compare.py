#!/usr/bin/env python3
"""Side by side: the rows of two robustness.json files (bench/robustness.sh).

    bench/robustness_compare.py OLD.json NEW.json

For every clip and attack of NEW: recovered or not, the shortest excerpt
that recovered the payload, the pilot z and the raw bit error rate, in OLD
and in NEW; '<<' marks a row NEW lost, '>>' one it gained. Last line per
clip: rows recovered in each.
"""
import json
import sys


def cell(row):
    if not row:
        return '-'
    d = row.get('detect') or {}
    ber = d.get('raw_bit_error_rate')
    return "%s %s z%.1f ber%s" % ('OK ' if row.get('recovered') else 'no ',
                                  (row.get('excerpt') or {}).get('shortest'),
                                  d.get('pilot_z') or 0,
                                  '%.1f' % (100 * ber) if isinstance(ber, (int, float)) else '-')


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old = json.load(open(sys.argv[1]))['clips']
    new = json.load(open(sys.argv[2]))['clips']
    for clip, c in new.items():
        a_old = old.get(clip, {}).get('attacks', {})
        n_ok = o_ok = 0
        for k, v in c['attacks'].items():
            o = a_old.get(k)
            was, now = bool(o and o.get('recovered')), bool(v.get('recovered'))
            n_ok += now
            o_ok += was
            mark = '  <<' if was and not now else '  >>' if now and not was else ''
            print("%-16s %-30s | %-30s%s" % (k, cell(o), cell(v), mark))
        print("%s: recovered %d before, %d now, of %d" % (clip, o_ok, n_ok, len(c['attacks'])))


if __name__ == '__main__':
    main()
