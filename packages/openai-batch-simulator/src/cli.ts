/** Entry point of the `openai-batch-simulator` command (bin/openai-batch-simulator.mjs). */
import { runSimulatorCli } from './simulator.ts';

/** Run the command line; prints a usage error and exits 2 on bad arguments. */
export async function main(argv: string[]): Promise<void> {
  try {
    await runSimulatorCli(argv);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
}
