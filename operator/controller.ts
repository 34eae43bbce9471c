// `pier controller`: cluster mode. Not built yet; see the operator issue.
import type { Config } from './config.ts';
import type { Logger } from './log.ts';

export async function runController(_config: Config, log: Logger): Promise<number> {
  log.error('pier controller is not implemented yet; use pier serve --manifests DIR');
  return 1;
}
