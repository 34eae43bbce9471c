#!/usr/bin/env node
// The `pier` command. Pier ships TypeScript and runs it through tsx, so `npx pier` works right
// after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../operator/cli.ts');
process.exitCode = await main(process.argv.slice(2));
