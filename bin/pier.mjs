#!/usr/bin/env node
// The `pier` command. Pier ships erasable TypeScript (tsconfig's erasableSyntaxOnly), which Node
// runs natively by stripping the types: `npx pier` works right after `npm ci`, with no build step.
const { main } = await import('../operator/cli.ts');
process.exitCode = await main(process.argv.slice(2));
