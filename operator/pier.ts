// The `pier` command's module: bin/pier.mjs runs it from the TypeScript sources, the image runs
// its compiled form (build/operator/pier.js, tsconfig.build.json).
import { main } from './cli.ts';

process.exitCode = await main(process.argv.slice(2));
