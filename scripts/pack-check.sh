#!/usr/bin/env bash
# The package as a producer gets it. `npm pack`, then in an empty folder: `npm install <tarball>`,
# a fleet from the installed package (`npx batchfleet worker` + `npx batchfleet simulator`), and a
# plain-node ESM script that imports batchfleet/client, enqueues 1,000 items and awaits every result.
# Then the consumer's `tsc --strict` against the installed .d.ts files, and examples/producer.
# Needs Redis and PostgreSQL (REDIS_URL, TEST_DATABASE_URL or DATABASE_URL) and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ITEMS=${PACK_CHECK_ITEMS:-1000}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
BASE_DB=${TEST_DATABASE_URL:-${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/batchfleet_test}}
RUN=pack$(date +%s)$$
SCHEMA=$RUN
PREFIX=bf-$RUN
WORK=$(mktemp -d "${TMPDIR:-/tmp}/batchfleet-pack-check.XXXXXX")
PIDS=()

cleanup() {
  local code=$?
  # Each background command leads its own process group (setsid): npx, its shell and node stop together.
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # npx may exit before its node child has finished shutting down (a worker's last job can still
  # add a build job): wait for every process of each group, up to 30 s, before deleting its keys.
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 300); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  done
  node -e "
    const { Redis } = require('ioredis'); const r = new Redis(process.argv[1]);
    (async () => { let c = '0'; do { const [n, k] = await r.scan(c, 'MATCH', process.argv[2] + ':*', 'COUNT', 1000); c = n; if (k.length) await r.del(...k); } while (c !== '0'); r.disconnect(); })();
  " "$REDIS_URL" "$PREFIX" || true
  node -e "
    const pg = require('pg'); const u = new URL(process.argv[1]); u.search = '';
    const c = new pg.Client({ connectionString: u.toString() });
    c.connect().then(() => c.query('drop schema if exists \"' + process.argv[2] + '\" cascade')).finally(() => c.end());
  " "$BASE_DB" "$SCHEMA" || true
  [ -n "${KEEP_PACK_CHECK:-}" ] || rm -rf "$WORK"
  exit $code
}
trap cleanup EXIT

echo "== npm pack"
npm pack --pack-destination "$WORK" --silent >"$WORK/pack.txt"
TARBALL="$WORK/$(tail -n 1 "$WORK/pack.txt")"
tar -tzf "$TARBALL" | sed 's#^package/##' | sort >"$WORK/files.txt"
echo "$(wc -l <"$WORK/files.txt") files, $(du -k "$TARBALL" | cut -f1) KiB"
UNEXPECTED=$(grep -vE '\.(js|d\.ts)$|^package\.json$|^README\.md$|^LICENSE$|^bin/batchfleet\.mjs$' "$WORK/files.txt" || true)
if [ -n "$UNEXPECTED" ]; then echo "unexpected files in the package:"; echo "$UNEXPECTED"; exit 1; fi
if grep -E '^(src|test|bench|docs|prisma|workers)/|\.ts$' "$WORK/files.txt" | grep -vE '\.d\.ts$'; then echo "sources or tests in the package"; exit 1; fi

echo "== npm pack -w packages/openai-batch-simulator (the simulator, an optional peer of the fleet)"
npm run build -w packages/openai-batch-simulator --silent >/dev/null
npm pack -w packages/openai-batch-simulator --pack-destination "$WORK" --silent >"$WORK/pack-sim.txt"
SIM_TARBALL="$WORK/$(tail -n 1 "$WORK/pack-sim.txt")"

echo "== npm install <tarball> in an empty folder"
mkdir "$WORK/consumer"
cd "$WORK/consumer"
printf '{ "name": "pack-check-consumer", "private": true, "type": "module" }\n' >package.json
npm install --no-audit --no-fund --silent "$TARBALL" "$SIM_TARBALL" zod@4.6.7 typescript@5.9.3 @types/node@20.19.9 >/dev/null
ls node_modules/.bin/batchfleet >/dev/null
if [ -e node_modules/tsx ]; then echo "tsx was installed: it must not be a runtime dependency"; exit 1; fi

echo "== migrate a fresh schema"
DB_URL="$BASE_DB?schema=$SCHEMA"
(cd "$ROOT" && DATABASE_URL="$DB_URL" npx prisma migrate deploy >/dev/null)

PORT=$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
export DATABASE_URL="$DB_URL" REDIS_URL BATCHFLEET_PREFIX="$PREFIX" SIMULATOR_URL="http://127.0.0.1:$PORT/v1" \
  DATA_DIR="$WORK/data" POLL_MIN_MS=100 POLL_MAX_MS=500 LOG_LEVEL=warn
unset OPENAI_API_KEY OPENAI_BASE_URL

echo "== npx batchfleet simulator, npx batchfleet worker (from the installed package)"
setsid npx --no-install batchfleet simulator --port "$PORT" --scenario happy --seed 7 --time-scale 2000 >"$WORK/simulator.log" 2>&1 &
PIDS+=($!)
setsid npx --no-install batchfleet worker >"$WORK/worker.log" 2>&1 &
PIDS+=($!)

cat >producer.mjs <<'JS'
import { createClient } from 'batchfleet/client';
import { classifyTicket } from 'batchfleet/tasks';

const n = Number(process.argv[2]);
const client = createClient({ redis: process.env.REDIS_URL, tasks: [classifyTicket] });
const items = Array.from({ length: n }, (_, i) => ({ externalId: `pack-${i}`, input: { subject: `Ticket ${i}`, body: `Customer ${i} cannot log in since the update.` } }));
const started = Date.now();
const handle = await client.enqueue(classifyTicket, items);
const results = [];
for await (const r of handle.results({ timeout: 600_000 })) results.push(r);
const ok = results.filter((r) => r.status === 'succeeded' && ['billing', 'bug', 'feature_request', 'account', 'other'].includes(r.output.category) && r.usage.inputTokens > 0);
const distinct = new Set(results.map((r) => r.externalId)).size;
const cost = results.reduce((a, r) => a + r.costUsd, 0);
console.log(JSON.stringify({ results: results.length, distinct, withOutput: ok.length, costUsd: Number(cost.toFixed(6)), seconds: (Date.now() - started) / 1000 }));
await client.close();
if (results.length !== n || distinct !== n || ok.length !== n) process.exit(1);
JS
echo "== plain node producer: $ITEMS items"
timeout 900 node producer.mjs "$ITEMS"

echo "== consumer tsc --strict against the installed .d.ts"
cp "$ROOT/test/package/types/consumer.ts" "$ROOT/test/package/types/tsconfig.json" .
npx --no-install tsc -p tsconfig.json

echo "== examples/producer (depends on batchfleet by path, plain JavaScript)"
(cd "$ROOT/examples/producer" && npm install --no-audit --no-fund --silent >/dev/null && EXAMPLE_TIMEOUT_MS=300000 timeout 400 node index.mjs 5)

echo "pack check passed"
