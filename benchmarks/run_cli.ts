/** Run the prefrl CLI from source (no build step): `npx tsx benchmarks/run_cli.ts <command> ...`. */
import { main } from '../scripts/cli.js';

process.exitCode = await main(process.argv.slice(2));
