import { DEMO_USAGE, formatSummary, parseDemoArgs, runDemo } from '../src/demo/run-demo.ts';
import { runEntry } from '../src/runtime/entry.ts';

await runEntry(async () => {
  const options = parseDemoArgs(process.argv.slice(2));
  if (options.help) return void console.log(DEMO_USAGE);
  const summary = await runDemo(options);
  const { simulator: _simulator, ...rest } = summary;
  if (options.json) console.log(JSON.stringify(rest));
  else console.log(formatSummary(summary));
  process.exit(summary.pending === 0 ? 0 : 1);
}, 'batchfleet demo');
