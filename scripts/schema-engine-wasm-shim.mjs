#!/usr/bin/env node
// Stand-in for Prisma's native `schema-engine` binary, for machines that cannot download it
// (see docs/prisma-offline.md). prisma.config.ts points PRISMA_SCHEMA_ENGINE_BINARY here.
//
// It speaks the binary's protocol: JSON-RPC 2.0, one message per line on stdin/stdout, JSON log
// lines on stderr; `--version`; and the one-shot `cli can-connect-to-database|create-database|
// drop-database`. Every RPC call is forwarded to @prisma/schema-engine-wasm, which reaches
// PostgreSQL through @prisma/adapter-pg. Workarounds for adapter-pg 7.10 / wasm engine quirks:
//   1. connectToShadowDb: our own (CREATE DATABASE, connect by URL, close pool, DROP ... WITH (FORCE)).
//   2. catalog types adapter-pg cannot map ("char", regclass, ...) are relabelled as text; "char"
//      columns then go to the engine as characters, as the native engine reads them.
//   3. executeScript runs the whole script as one simple query (adapter-pg splits on ';').
//   4. createMigration/evaluateDataLoss: "shadow DB must be provided through an external factory"
//      -> run devDiagnostic (which fills the engine's cache) and retry once.
//   5. `?schema=x` in the URL: search_path=x on every connection and CREATE SCHEMA IF NOT EXISTS.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import readline from 'node:readline'
import { format } from 'node:util'
import pg from 'pg'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory, ColumnTypeEnum, DriverAdapterError } from '@prisma/driver-adapter-utils'

const require = createRequire(import.meta.url)
const WASM_PKG = '@prisma/schema-engine-wasm'
const SHADOW_RETRY = /shadow DB must be provided through an external factory/
const CATALOG_TEXT_OIDS = new Set([18, 22, 24, 28, 29, 30, 194, 1033, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096])
const TEXT_OID = 25

// stderr carries JSON log lines only (the CLI parses them); stdout carries JSON-RPC only.
function log(level, message, target = 'schema_engine_wasm_shim', extra = {}) {
  const line = JSON.stringify({ timestamp: new Date().toISOString(), level, fields: { message, ...extra }, target })
  process.stderr.write(line + '\n')
}
for (const m of ['log', 'info', 'debug', 'warn', 'error']) console[m] = (...a) => log(m === 'warn' || m === 'error' ? 'WARN' : 'INFO', format(...a))
process.removeAllListeners('warning')
process.on('warning', (w) => log('WARN', String(w)))

const opts = { datamodels: [], datasource: {}, command: undefined }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--version' || a === '-V') {
    const pkgJson = path.join(path.dirname(require.resolve(`${WASM_PKG}/schema_engine_bg`)), 'package.json')
    const { version } = JSON.parse(readFileSync(pkgJson, 'utf8'))
    process.stdout.write(`schema-engine-cli ${version.split('.').pop()} (wasm shim)\n`)
    process.exit(0)
  } else if (a === '--datasource') opts.datasource = JSON.parse(argv[++i])
  else if (a === '--datamodels') opts.datamodels.push(argv[++i])
  else if (a === '--enabled-preview-features' || a === '--extension-types') i++
  else if (a === 'cli') opts.command = argv[++i]
}

// ---------------------------------------------------------------- connection helpers
const quoteIdent = (s) => `"${String(s).replace(/"/g, '""')}"`

function parseDbUrl(url) {
  if (!url) throw Object.assign(new Error('The datasource URL is missing (set datasource.url in prisma.config.ts).'), { code: 'P1012' })
  const u = new URL(url)
  const schema = u.searchParams.get('schema') || undefined
  u.searchParams.delete('schema')
  const user = decodeURIComponent(u.username)
  const database = decodeURIComponent(u.pathname.slice(1)) || user || 'postgres'
  return { u, schema, database, user, host: u.hostname || u.searchParams.get('host') || 'localhost', port: u.port || '5432' }
}

function withDatabase(url, db) {
  const u = new URL(url)
  u.pathname = '/' + encodeURIComponent(db)
  return u.href
}

// Connection string for pg: `schema` removed, search_path set through the startup `options`.
function pgConnectionString(url) {
  const { u, schema } = parseDbUrl(url)
  if (schema) {
    const setting = '-c search_path=' + quoteIdent(schema).replace(/[\\ ]/g, (c) => '\\' + c)
    const prev = u.searchParams.get('options')
    u.searchParams.set('options', prev ? `${prev} ${setting}` : setting)
  }
  return u.href
}

const CHAR_OID = 18

function relabel(res) {
  for (const r of Array.isArray(res) ? res : [res]) {
    for (const f of r?.fields ?? []) {
      if (!CATALOG_TEXT_OIDS.has(f.dataTypeID)) continue
      if (f.dataTypeID === CHAR_OID) f.catalogChar = true // reported to the engine as a character, below
      f.dataTypeID = TEXT_OID
    }
  }
  return res
}

// adapter-pg throws on system catalog types such as "char" (OID 18); they are plain strings anyway.
class CatalogTextClient extends pg.Client {
  query(config, values, callback) {
    if (typeof values === 'function') [values, callback] = [undefined, values]
    if (config && typeof config.submit === 'function') return super.query(config, values, callback)
    if (callback) return super.query(config, values, (err, res) => callback(err, err ? res : relabel(res)))
    return super.query(config, values).then(relabel)
  }
}

function makePool(url) {
  const pool = new pg.Pool({ connectionString: pgConnectionString(url), Client: CatalogTextClient })
  pool.on('error', (e) => log('WARN', `idle connection error: ${e.message}`))
  return pool
}

// A connection for CREATE/DROP DATABASE: the `postgres` database first, then the URL's own database
// (not template1: CREATE DATABASE fails while anyone is connected to its template).
async function adminClient(url) {
  const { u, database } = parseDbUrl(url)
  let lastError
  for (const db of [...new Set(['postgres', database])]) {
    const client = new pg.Client({ connectionString: withDatabase(u.href, db) })
    try {
      await client.connect()
      return client
    } catch (e) {
      lastError = e
      await client.end().catch(() => {})
      if (!e.severity) break // not a server-side refusal (e.g. unreachable): the next one fails too
    }
  }
  throw lastError
}

async function createDatabase(url) {
  const { database } = parseDbUrl(url)
  const admin = await adminClient(url)
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(database)}`)
  } finally {
    await admin.end().catch(() => {})
  }
  return database
}

// WITH (FORCE) (PostgreSQL 13+) also ends sessions still connected to it.
async function dropDatabaseWith(admin, database) {
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`)
  } catch (e) {
    if (e.code !== '42601') throw e // syntax error: PostgreSQL 12 or older
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`)
  }
}

async function dropDatabase(url) {
  const { database } = parseDbUrl(url)
  const admin = await adminClient(withDatabase(url, 'postgres'))
  try {
    await dropDatabaseWith(admin, database)
  } finally {
    await admin.end().catch(() => {})
  }
}

// pg / network errors -> the user-facing errors the native engine reports.
function userFacing(e, url) {
  if (typeof e?.code === 'string' && /^P\d{4}$/.test(e.code)) return { code: e.code, message: e.message }
  let host = 'localhost', port = '5432', database = '', user = ''
  try { ({ host, port, database, user } = parseDbUrl(url)) } catch {}
  const at = `${host}:${port}`
  switch (e?.code) {
    case '3D000': return { code: 'P1003', message: `Database \`${database}\` does not exist on the database server at \`${at}\`.` }
    case '42P04': return { code: 'P1009', message: `Database \`${database}\` already exists on the database server at \`${at}\`` }
    case '28P01': case '28000':
      return { code: 'P1000', message: `Authentication failed against database server, the provided database credentials for \`${user}\` are not valid.\n\nPlease make sure to provide valid database credentials for the database server at the configured address.` }
    case '42501': return { code: 'P1010', message: `User \`${user}\` was denied access on the database \`${database}\`` }
    case 'ECONNREFUSED': case 'ENOTFOUND': case 'EHOSTUNREACH': case 'ETIMEDOUT': case 'EAI_AGAIN': case 'ECONNRESET':
      return { code: 'P1001', message: `Can't reach database server at \`${at}\`\n\nPlease make sure your database server is running at \`${at}\`.` }
  }
  return { code: undefined, message: e?.message ?? String(e) }
}

// ---------------------------------------------------------------- one-shot `cli <command>` mode
async function runOneShot(command) {
  const url = opts.datasource?.url
  // The CLI drops the first stderr line before parsing the rest as JSON: this is that line.
  log('INFO', `Starting schema engine wasm shim (cli ${command})`)
  try {
    if (command === 'can-connect-to-database') {
      const client = new pg.Client({ connectionString: pgConnectionString(url) })
      try {
        await client.connect()
        await client.query('SELECT 1')
      } finally {
        await client.end().catch(() => {})
      }
    } else if (command === 'create-database') await createDatabase(url)
    else if (command === 'drop-database') await dropDatabase(url)
    else throw new Error(`Unknown cli command: ${command}`)
    process.exit(0)
  } catch (e) {
    const { code, message } = userFacing(e, url)
    const fields = code ? { message, error_code: code } : { message }
    // Last line, without a trailing newline: every line after the first must parse as JSON.
    process.stderr.write(JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', fields, target: 'schema_engine::logger' }))
    process.exit(1)
  }
}

// ---------------------------------------------------------------- adapter factory for the wasm engine
const shadowDbs = new Set()
let lastScriptError // the SQL error of the last failed script in the current request

async function ensureSchema(pool, schema) {
  if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`)
}

// The native engine reads a `"char"` column (pg_constraint.contype, pg_class.relkind, …) as a
// character, and the schema describer insists on it: given text, it panics ("… as char failed")
// as soon as a table has a CHECK constraint. adapter-pg knows no such type, so the columns that
// `relabel` marked are reported as characters here.
function reportCatalogChars(adapter) {
  const fieldsOf = new WeakMap()
  const performIO = adapter.performIO.bind(adapter)
  adapter.performIO = async (query) => {
    const res = await performIO(query)
    if (res?.rows && res.fields?.some((f) => f.catalogChar)) fieldsOf.set(res.rows, res.fields)
    return res
  }
  const queryRaw = adapter.queryRaw.bind(adapter)
  adapter.queryRaw = async (query) => {
    const out = await queryRaw(query)
    fieldsOf.get(out.rows)?.forEach((f, i) => { if (f.catalogChar) out.columnTypes[i] = ColumnTypeEnum.Character })
    return out
  }
}

// adapter-pg splits scripts on ';' (breaks $$ bodies, half-applies failed migrations). The native
// engine sends the whole script as one simple query, i.e. one implicit transaction: do the same.
function patchAdapter(adapter, pool) {
  reportCatalogChars(adapter)
  adapter.executeScript = async (script) => {
    try {
      await pool.query(script)
    } catch (e) {
      if (typeof e?.code !== 'string' || e.code.length !== 5 || !e.severity) adapter.onError(e) // connection errors
      lastScriptError = e
      const { code, severity, message, detail, column, hint } = e
      throw new DriverAdapterError({ kind: 'postgres', code, severity, message, detail, column, hint })
    }
  }
  return adapter
}

async function connectAdapter(url, onDispose, createSchema = true, resetSchema = false) {
  const { schema } = parseDbUrl(url)
  const pool = makePool(url)
  if (resetSchema) { // a configured shadow database is emptied before use, as the native engine does
    const name = quoteIdent(schema ?? 'public')
    await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE; CREATE SCHEMA ${name};`)
  }
  try {
    if (createSchema) await ensureSchema(pool, schema)
  } catch (e) {
    log('WARN', `could not create schema ${schema}: ${e.message}`) // the engine reports the real error
  }
  const adapter = patchAdapter(await new PrismaPg(pool, schema ? { schema } : undefined).connect(), pool)
  adapter.dispose = async () => {
    await pool.end().catch(() => {})
    await onDispose?.()
  }
  return adapter
}

async function dropShadow(shadow) {
  if (!shadowDbs.delete(shadow)) return
  await shadow.pool?.end().catch(() => {})
  try {
    await dropDatabaseWith(shadow.admin, shadow.name)
  } catch (e) {
    log('WARN', `could not drop shadow database ${shadow.name}: ${e.message}`)
  } finally {
    await shadow.admin.end().catch(() => {})
  }
}

function makeAdapterFactory(datasource, mainUrl) {
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => connectAdapter(mainUrl, undefined, mainUrl === datasource.url),
    async connectToShadowDb() {
      if (datasource.shadowDatabaseUrl) return connectAdapter(datasource.shadowDatabaseUrl, undefined, true, true)
      const shadow = { name: `prisma_migrate_shadow_db_${randomUUID()}`, admin: await adminClient(datasource.url) }
      try {
        await shadow.admin.query(`CREATE DATABASE ${quoteIdent(shadow.name)}`)
      } catch (e) {
        await shadow.admin.end().catch(() => {})
        throw e
      }
      shadowDbs.add(shadow)
      const adapter = await connectAdapter(withDatabase(datasource.url, shadow.name), () => dropShadow(shadow))
      shadow.pool = adapter.underlyingDriver()
      return adapter
    },
  }
}

// ---------------------------------------------------------------- JSON-RPC server mode
let enginePromise
let panicMessage

// The wasm engine queries its main connection on startup, even for diffs that never read the
// database (the native engine does not). For those, fall back to the server's `postgres` database
// when the configured one does not exist, so `migrate diff --from-migrations ...` works without it.
async function mainUrlFor(method, params) {
  const url = opts.datasource.url
  const readsDb = [params?.from, params?.to].some((t) => t?.tag === 'schemaDatasource' || t?.tag === 'url')
  if (method !== 'diff' || readsDb || !url) return url
  const client = new pg.Client({ connectionString: pgConnectionString(url) })
  try {
    await client.connect()
    return url
  } catch (e) {
    return e.code === '3D000' ? withDatabase(url, 'postgres') : url
  } finally {
    await client.end().catch(() => {})
  }
}

function getEngine(method, params) {
  enginePromise ??= (async () => {
    const mainUrl = await mainUrlFor(method, params)
    globalThis.PRISMA_WASM_PANIC_REGISTRY = { set_message: (m) => { panicMessage = m } }
    const gluePath = require.resolve(`${WASM_PKG}/schema_engine_bg`)
    const glue = await import(`${WASM_PKG}/schema_engine_bg`)
    // Node 20 cannot `import` a .wasm file, so instantiate the module by hand.
    const bytes = readFileSync(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm'))
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue })
    glue.__wbg_set_wasm(instance.exports)
    instance.exports.__wbindgen_start()
    const datamodels = opts.datamodels.length ? opts.datamodels.map((p) => [p, readFileSync(p, 'utf8')]) : undefined
    const factory = bindMigrationAwareSqlAdapterFactory(makeAdapterFactory(opts.datasource, mainUrl))
    const onLog = (line) => process.stderr.write(line.endsWith('\n') ? line : line + '\n')
    return glue.SchemaEngine.new({ datamodels }, onLog, factory)
  })()
  return enginePromise
}

const PASSTHROUGH = new Set(['applyMigrations', 'devDiagnostic', 'diagnoseMigrationHistory', 'ensureConnectionValidity',
  'introspect', 'introspectSql', 'markMigrationApplied', 'markMigrationRolledBack', 'reset', 'schemaPush'])

function datasourceUrl(param) {
  if (param?.tag === 'ConnectionString' || param?.tag === 'url') return param.url
  return opts.datasource.url // `Schema`/`schema` variants: Prisma 7 schemas carry no URL, the config does
}

async function handle(method, params) {
  switch (method) {
    case 'createDatabase':
      return { databaseName: await createDatabase(datasourceUrl(params?.datasource)) }
    case 'dbExecute': { // like the native engine: the whole script as one simple query
      const client = new pg.Client({ connectionString: pgConnectionString(datasourceUrl(params.datasourceType)) })
      try {
        await client.connect()
        await client.query(params.script)
      } finally {
        await client.end().catch(() => {})
      }
      return null
    }
  }
  const engine = await getEngine(method, params)
  switch (method) {
    case 'getDatabaseVersion':
      return engine.version()
    case 'diff': {
      const result = await engine.diff(params)
      // The native engine sends its output to the CLI through a `print` request.
      if (result.stdout) await requestCli('print', { content: result.stdout.replace(/\n$/, '') })
      return { exitCode: result.exitCode }
    }
    case 'createMigration':
    case 'evaluateDataLoss':
      try {
        return await engine[method](params)
      } catch (e) {
        if (!SHADOW_RETRY.test(errorText(e))) throw e
        log('INFO', `${method}: no cached shadow schema, running devDiagnostic and retrying`)
        await engine.devDiagnostic({ migrationsList: params.migrationsList, filters: params.filters })
        return await engine[method](params)
      }
    case 'debugPanic':
      return engine.debugPanic()
  }
  if (PASSTHROUGH.has(method)) return engine[method](params)
  throw Object.assign(new Error(`Method not found: ${method}`), { rpcCode: -32601 })
}

function errorText(e) {
  return [e?.message, e?.cause?.message, typeof e === 'string' ? e : ''].filter(Boolean).join('\n')
}

function toRpcError(e, method) {
  if (e?.rpcCode) return { code: e.rpcCode, message: e.message }
  const text = errorText(e)
  const failed = /with migration_name="([^"]+)"/.exec(text)
  if (method === 'applyMigrations' && lastScriptError && failed && !e?.code) {
    // The wasm engine reports "external connector error"; give the native P3018 with the SQL error.
    const { code, message, detail, hint } = lastScriptError
    const dbError = [`ERROR: ${message}`, detail && `DETAIL: ${detail}`, hint && `HINT: ${hint}`].filter(Boolean).join('\n')
    const msg = 'A migration failed to apply. New migrations cannot be applied before the error is recovered from. Read more about how to resolve migration issues in a production database: https://pris.ly/d/migrate-resolve'
      + `\n\nMigration name: ${failed[1]}\n\nDatabase error code: ${code}\n\nDatabase error:\n${dbError}\n`
    return { code: 4466, message: 'An error happened. Check the data field for details.', data: { is_panic: false, message: msg, meta: { migration_name: failed[1], database_error_code: code, database_error: dbError }, error_code: 'P3018' } }
  }
  if (e instanceof WebAssembly.RuntimeError || panicMessage) {
    const message = panicMessage ?? e?.message ?? String(e)
    return { code: 4466, message, data: { is_panic: true, message, backtrace: e?.stack ?? '' } }
  }
  const { code, message } = e?.code ? userFacing(e, opts.datasource.url) : { message: text || String(e) }
  return { code: 4466, message: 'An error happened. Check the data field for details.', data: { is_panic: false, message, meta: e?.meta ?? null, error_code: code ?? null } }
}

const send = (msg) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...msg }) + '\n')
const pendingCli = new Map()
let nextCliId = 1_000_000

function requestCli(method, params) {
  const id = nextCliId++
  return new Promise((resolve) => {
    pendingCli.set(id, resolve)
    send({ id, method, params })
  })
}

async function shutdown(code = 0) {
  await Promise.race([Promise.all([...shadowDbs].map(dropShadow)), new Promise((r) => setTimeout(r, 3000))])
  process.exit(code)
}

function runServer() {
  let queue = Promise.resolve()
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  rl.on('line', (line) => {
    if (!line.trim()) return
    let msg
    try {
      msg = JSON.parse(line)
    } catch {
      return send({ id: null, error: { code: -32700, message: 'Parse error' } })
    }
    if (msg.method === undefined) { // a response to one of our requests (`print`)
      pendingCli.get(msg.id)?.(msg.result)
      return pendingCli.delete(msg.id)
    }
    // The engine is single-threaded (&mut self): one request at a time, in order.
    queue = queue.then(async () => {
      let reply
      lastScriptError = undefined
      try {
        const result = await handle(msg.method, msg.params ?? {})
        reply = { id: msg.id, result: result === undefined ? null : result }
      } catch (e) {
        reply = { id: msg.id, error: toRpcError(e, msg.method) }
      }
      // Shadow databases live for one call; drop any the engine did not dispose of.
      await Promise.all([...shadowDbs].map(dropShadow))
      if (msg.id !== undefined) send(reply)
    })
  })
  rl.on('close', () => queue.then(() => shutdown(0)))
  process.on('SIGTERM', () => shutdown(0))
  process.on('SIGINT', () => shutdown(130))
}

if (opts.command) await runOneShot(opts.command)
else runServer()
