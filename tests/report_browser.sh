#!/usr/bin/env bash
# report_browser.sh BUILD_DIR SOURCE_DIR [KEEP_DIR]
#
# The evidence report in a real browser: marks the bundled sample with a
# fresh key, runs wmdetect --report on it, and loads the report in headless
# chromium (Debian's, scripts/deps.sh). Fails when the report refers to
# anything outside itself, when its tags do not balance, when the browser
# logs any console message (the report has no script: an error or warning
# there is a fault), when the DOM the browser built lacks a section, or when
# the screenshot is blank. With KEEP_DIR, the report and screenshot are
# copied there. Exit 0 on success, 1 with a one-line reason on failure.
set -euo pipefail
build=${1:?usage: report_browser.sh BUILD_DIR SOURCE_DIR [KEEP_DIR]}
src=${2:?usage: report_browser.sh BUILD_DIR SOURCE_DIR [KEEP_DIR]}
keep=${3:-}
fail() { echo "report_browser: $*" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || fail "no chromium (install the Debian package chromium: scripts/deps.sh)"
work=$(mktemp -d "${TMPDIR:-/tmp}/fm-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# the screener workflow: wmembed records the issuance, wmdetect names from it
export FILMMARK_REGISTRY="$work/registry.sqlite"

"$build/wmkeygen" -q --no-passphrase -o key
"$build/wmembed" -q -k key.key -i "$src/samples/sample.mkv" -o marked.webm \
    --title-id 42 --recipient-id 7 || fail "wmembed failed"
rc=0
"$build/wmdetect" -q -k key.dkey --receipt marked.webm.receipt.json --report report.html \
    marked.webm || rc=$?
[ "$rc" = 0 ] || fail "wmdetect exit $rc on the marked sample"
[ -s report.html ] || fail "no report written"

# self-contained: no script, nothing fetched (the SVG namespace is a name, not a fetch)
if grep -Eiq '<script|<link|<iframe|<object|<embed|@import|url\(' report.html; then
    fail "the report has scripts or external resources"
fi
if grep -Eo '(src|href)="[^"]*"' report.html | grep -Ev '^src="data:image/jpeg;base64,' | grep -q .; then
    fail "the report refers to something outside itself"
fi

# balanced tags (void and self-closed elements aside)
python3 - report.html <<'EOF' || fail "the report's tags do not balance"
import sys
from html.parser import HTMLParser
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.bad = [], []
    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        pass
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.bad.append("</%s> at %s, open: %s" % (tag, self.getpos(), self.stack[-3:]))
        else:
            self.stack.pop()
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
p.close()
if p.bad or p.stack:
    print("unbalanced:", p.bad[:3], "left open:", p.stack, file=sys.stderr)
    sys.exit(1)
EOF

# Chromium: any name lookup fails, so a fetch could not succeed silently
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
       --disable-background-networking "--host-resolver-rules=MAP * ~NOTFOUND"
       --enable-logging=stderr --v=0)
url="file://$work/report.html"
timeout 180 "$browser" "${flags[@]}" --dump-dom "$url" >dom.html 2>console.log ||
    fail "chromium --dump-dom failed: $(tail -1 console.log)"
if grep -E 'CONSOLE|Uncaught|Refused to|Failed to load' console.log; then
    fail "the browser's console is not empty (above)"
fi
for id in verdict analysed how mark probability strength frames geometry content recipients \
          receipts; do
    grep -q "id=\"$id\"" dom.html || fail "the rendered page lacks #$id"
done
grep -q '<tr><td>7</td>' dom.html || fail "the rendered page does not name recipient 7 from the registry"
grep -q '</svg>' dom.html || fail "the rendered page has no plot"
grep -q 'src="data:image/jpeg;base64,' dom.html || fail "the rendered page has no thumbnail"
grep -q '</html>' dom.html || fail "the rendered page is incomplete"

timeout 180 "$browser" "${flags[@]}" --window-size=1280,2000 --screenshot="$work/shot.png" \
    "$url" >/dev/null 2>shot.log || fail "chromium --screenshot failed: $(tail -1 shot.log)"
[ -s shot.png ] || fail "no screenshot"
# non-blank: decode the PNG to grey levels and look at their spread
ffmpeg -v error -i shot.png -f rawvideo -pix_fmt gray - >shot.gray || fail "cannot decode the screenshot"
python3 - shot.gray <<'EOF' || fail "the screenshot is blank"
import sys
data = open(sys.argv[1], "rb").read()
n = len(data)
mean = sum(data) / n
var = sum((b - mean) ** 2 for b in data[::7]) / len(data[::7])
dark = sum(1 for b in data[::7] if b < 128) / len(data[::7])
levels = len(set(data))
print("screenshot: %d pixels, mean %.1f, variance %.1f, %.1f %% dark, %d grey levels"
      % (n, mean, var, 100 * dark, levels), file=sys.stderr)
sys.exit(0 if var > 200 and dark > 0.01 and levels > 64 else 1)
EOF

if [ -n "$keep" ]; then
    cp report.html shot.png "$keep/"
fi
echo "report_browser: ok"
