#!/usr/bin/env bash
# The HTTP service under load: `resellers serve` on 127.0.0.1 with 1,000,000 resellers
# carrying the ActivePlatform attribute set, driven by wrk (installed from Debian's
# packages when missing) with 64 connections for 20 s per endpoint: a mix of
# principals, flags and pages on each endpoint, and beside them the HTTP stack's own
# ceiling, a route of the same server that returns a constant body of the same mean
# size. Prints a Markdown table and one JSON object a line.
#
#   benches/http.sh                    # N=1000000 DURATION=20s CONNECTIONS=64
#   N=100000 DURATION=5s benches/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from the distribution's packages" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null
fi
cargo build --release --quiet --features cli --bin resellers
bin=target/release/resellers

work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "generating $N resellers" >&2
"$bin" generate --shape random --n "$N" --seed 42 --attributes --out "$work/data.ndjson" >/dev/null

# 64 principals: RESELLER_ADMINs and RESELLERs of resellers spread over the hierarchy
# (small ids sit high in a random recursive tree, so their listings are large), and
# ADMINs.
python3 - "$work" "$N" <<'PY'
import json, random, sys
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
tokens = []
for i in range(64):
    if i % 8 == 0:
        tokens.append({"token": f"t{i}", "role": "ADMIN"})
    elif i % 8 < 6:
        rid = str(min(n, rng.choice([1, 2, 3, 7, 20, 100])) if i % 2 else rng.randrange(1, n + 1))
        tokens.append({"token": f"t{i}", "role": "RESELLER_ADMIN", "reseller": rid})
    else:
        tokens.append({"token": f"t{i}", "role": "RESELLER", "reseller": str(rng.randrange(1, min(n, 1000) + 1))})
json.dump({"tokens": tokens}, open(f"{work}/tokens.json", "w"))
# Requests per endpoint: (token, path).
flags = ["", "iptv=true&", "iptvprivate=true&", "flexcare=true&", "voip=true&"]
list_reqs, down_reqs = [], []
for k in range(1024):
    t = tokens[rng.randrange(64)]
    flag = "" if t["role"] == "RESELLER" else rng.choice(flags)
    page, per = rng.choice([1, 1, 1, 2, 3, 10]), rng.choice([10, 50, 50, 100])
    list_reqs.append((t["token"], f"/customer/resellers/list?{flag}page={page}&per_page={per}"))
    t = tokens[rng.randrange(64)]
    while "reseller" not in t:
        t = tokens[rng.randrange(64)]
    order = rng.choice(["", "order=level&"])
    down_reqs.append((t["token"], f"/api/v3/customer_store/resellers?{order}page%5Bnumber%5D={page}&page%5Bsize%5D={per}"))
for name, reqs in [("list", list_reqs), ("down", down_reqs)]:
    with open(f"{work}/{name}.lua", "w") as f:
        f.write("local reqs = {\n")
        for tok, path in reqs:
            f.write(f'  {{"{tok}", "{path}"}},\n')
        f.write("}\nlocal i = 0\n")
        f.write("request = function()\n  i = i % #reqs + 1\n  local r = reqs[i]\n")
        f.write('  return wrk.format("GET", r[2], {["X-Api-Token"] = r[1]})\nend\n')
    with open(f"{work}/{name}.txt", "w") as f:
        for tok, path in reqs:
            f.write(f"{tok} {path}\n")
PY

"$bin" serve --data "$work/data.ndjson" --tokens "$work/tokens.json" --listen 127.0.0.1:0 \
    --ceiling-route 2>"$work/serve.log" &
server=$!
for _ in $(seq 600); do
    grep -q listening "$work/serve.log" 2>/dev/null && break
    if ! kill -0 "$server" 2>/dev/null; then
        echo "resellers serve did not start:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    sleep 0.2
done
addr=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$work/serve.log")
base="http://$addr"
echo "serving on $base" >&2

# Mean body size of each endpoint's mix, for the ceiling route; every answer must be a 200.
mean_bytes() {
    python3 - "$base" "$1" <<'PY'
import sys, urllib.request
base, reqs = sys.argv[1], open(sys.argv[2]).read().split("\n")
sizes = []
for line in reqs[:200]:
    if not line: continue
    tok, path = line.split(" ", 1)
    r = urllib.request.urlopen(urllib.request.Request(base + path, headers={"X-Api-Token": tok}))
    assert r.status == 200, (r.status, path)
    sizes.append(len(r.read()))
print(sum(sizes) // len(sizes))
PY
}
list_bytes=$(mean_bytes "$work/list.txt")
down_bytes=$(mean_bytes "$work/down.txt")

run() { # name url script
    local name=$1 url=$2 script=${3:-}
    local args=(-t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency)
    [ -n "$script" ] && args+=(-s "$script")
    wrk "${args[@]}" "$url" >"$work/$name.wrk" 2>&1
    python3 - "$work/$name.wrk" "$name" "$N" <<'PY'
import json, re, sys
text, name, n = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3])
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
lat = {p: ms(*re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text).groups()) for p in ("50", "99")}
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:.*", text)
out = {"metric": f"http_{name}", "shape": "random_attributes", "n": n, "value": rps, "unit": "req/s",
       "p50_ms": lat["50"], "p99_ms": lat["99"], "non_2xx": int(bad.group(1)) if bad else 0,
       "socket_errors": errors.group(0) if errors else ""}
print(json.dumps(out))
PY
}
{
    run ceiling_list "$base/_ceiling?bytes=$list_bytes"
    run telecomx "$base/" "$work/list.lua"
    run ceiling_downline "$base/_ceiling?bytes=$down_bytes"
    run jsonapi "$base/" "$work/down.lua"
} | tee "$work/results.jsonl"

python3 - "$work/results.jsonl" "$list_bytes" "$down_bytes" <<'PY'
import json, sys
rows = {r["metric"]: r for r in map(json.loads, open(sys.argv[1]))}
print()
print("| endpoint | mean body | requests/s | of the ceiling | p50 | p99 | non-2xx |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for ep, ceil, size in [("http_telecomx", "http_ceiling_list", sys.argv[2]), ("http_jsonapi", "http_ceiling_downline", sys.argv[3])]:
    for m in (ceil, ep):
        r = rows[m]
        share = "" if m == ceil else f"{100 * r['value'] / rows[ceil]['value']:.0f}%"
        print(f"| {m[5:]} | {size} B | {r['value']:.0f} | {share} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['non_2xx']} |")
bad = [m for m, r in rows.items() if r["non_2xx"] or r["socket_errors"]]
if bad:
    sys.exit(f"error responses or socket errors in {bad}")
PY
