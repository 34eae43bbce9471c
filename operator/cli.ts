// The `pier` command: parse flags once, then hand over to the command.
import { EXIT_BAD_FLAGS, FlagError, helpText, parseConfig, type Config } from './config.ts';
import { createLogger } from '../proxy/log.ts';

export async function main(argv: readonly string[]): Promise<number> {
  let config: Config;
  try {
    config = parseConfig(argv);
  } catch (error) {
    if (error instanceof FlagError) {
      process.stderr.write(`pier: ${error.message}\nRun "pier --help" for the flags.\n`);
      return EXIT_BAD_FLAGS;
    }
    throw error;
  }
  const log = createLogger(config.flags['log-level']);
  switch (config.command) {
    case 'help':
      process.stdout.write(helpText());
      return 0;
    case 'serve': {
      const { serve } = await import('./serve.ts');
      return serve(config, log);
    }
    case 'routes': {
      const { printRoutes } = await import('./routes-command.ts');
      return printRoutes(config, (text) => process.stdout.write(text));
    }
    case 'audit': {
      const { runAudit } = await import('./audit-command.ts');
      return runAudit(config, log, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
    }
    case 'controller': {
      const { runController } = await import('./controller.ts');
      return runController(config, log);
    }
  }
}
