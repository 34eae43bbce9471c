// Entry point of a proxy worker process (--workers=N > 1), forked by proxy/workers.ts. Like
// bin/pier.mjs it registers tsx first, since Pier ships TypeScript with no build step.
import { register } from 'tsx/esm/api';

register();
const { runWorker } = await import('./worker.ts');
runWorker();
