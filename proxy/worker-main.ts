// Entry point of a proxy worker process (--workers=N > 1), forked by proxy/workers.ts. It loads
// the data plane only: nothing here reaches the operator, its API client, zod or YAML.
import { runWorker } from './worker.ts';

runWorker();
