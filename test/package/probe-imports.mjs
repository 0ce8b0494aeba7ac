// Imports one module specifier (argv[2]) in a fresh process and prints, as JSON, how long the
// import took and every module it loaded: ESM URLs seen by a resolve hook, plus CommonJS files.
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const hooks = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}`;
const { port1, port2 } = new MessageChannel();
const urls = new Set();
port1.on('message', (url) => urls.add(url));
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url, { data: { port: port2 }, transferList: [port2] });

const started = performance.now();
const mod = await import(process.argv[2]);
const ms = performance.now() - started;
await new Promise((r) => setTimeout(r, 100)); // let the hook thread's last messages arrive
port1.close();
const cjs = Object.keys(createRequire(import.meta.url).cache);
process.stdout.write(JSON.stringify({ ms, exports: Object.keys(mod).sort(), modules: [...urls, ...cjs] }));
