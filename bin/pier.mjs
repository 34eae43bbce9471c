#!/usr/bin/env node
// The `pier` command. Pier ships erasable TypeScript (tsconfig's erasableSyntaxOnly), which Node
// runs natively by stripping the types: `npx pier` works right after `npm ci`, with no build step.
// The image runs the compiled JavaScript instead (Dockerfile, tsconfig.build.json).
await import('../operator/pier.ts');
