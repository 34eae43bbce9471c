// A node:test reporter that lists skipped tests, one per line. test/run.mjs fails the run when it
// lists any: a suite that skips (not root, no test hosts, a missing tool) hides what it tests.
export default async function* skippedTests(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const skip = event.data.skip;
    if (skip === undefined || skip === false) continue;
    yield `${event.data.file ?? ''}: ${event.data.name}${typeof skip === 'string' ? ` (${skip})` : ''}\n`;
  }
}
