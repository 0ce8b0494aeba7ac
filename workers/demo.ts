import { formatSummary, parseDemoArgs, runDemo } from '../src/demo/run-demo.ts';

const options = parseDemoArgs(process.argv.slice(2));
const summary = await runDemo(options);
const { simulator: _simulator, ...rest } = summary;
if (options.json) console.log(JSON.stringify(rest));
else console.log(formatSummary(summary));
process.exit(summary.pending === 0 ? 0 : 1);
