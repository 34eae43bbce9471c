// Command-line flags, with ingress-nginx's names. Parsed once, here, with zod; everything else
// receives the resulting Config. A bad flag is a FlagError, which the CLI turns into exit code 2.
import { availableParallelism } from 'node:os';
import { readCgroupCpuLimit, workersFor } from './cpu-limit.ts';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const EXIT_BAD_FLAGS = 2;

export class FlagError extends Error {
  override name = 'FlagError';
}

const port = z.coerce.number().int().min(0).max(65535);
const namespacedName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, 'must be namespace/name')
  .transform((value) => {
    const [namespace, name] = value.split('/') as [string, string];
    return { namespace, name };
  });
const booleanFlag = z.enum(['true', 'false']).transform((value) => value === 'true');
/** Durations as Go writes them (`5s`, `1m30s`, `250ms`) or plain seconds, as ingress-nginx's ConfigMap takes them. */
const duration = z.string().transform((value, ctx) => {
  const ms = parseDurationMs(value);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use 5s, 1m, 250ms, or a number of seconds)` });
    return z.NEVER;
  }
  return ms;
});

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(value: string): number | null {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== value) return null;
  return parts.reduce((total, part) => total + Number(part[1]) * (UNIT_MS[part[2] as string] as number), 0);
}

/** Every flag Pier knows: its parser, its default, and its help line. */
const FLAGS = {
  manifests: { schema: z.string().min(1).optional(), help: 'serve Ingresses from the manifest files under this directory (no cluster)' },
  kubeconfig: { schema: z.string().min(1).optional(), help: 'kubeconfig file for running outside a cluster (default: in-cluster, then KUBECONFIG)' },
  'bind-address': { schema: z.string().min(1).default('0.0.0.0'), help: 'address the HTTP, HTTPS and default-server ports listen on' },
  'http-port': { schema: port.default(80), help: 'port for HTTP traffic' },
  'https-port': { schema: port.default(443), help: 'port for HTTPS traffic' },
  'healthz-port': { schema: port.default(10254), help: 'port for /healthz and /metrics' },
  'healthz-bind-address': { schema: z.string().min(1).default('0.0.0.0'), help: 'address the healthz port listens on' },
  'default-server-port': { schema: port.default(8181), help: 'port of the built-in default server (answers 404)' },
  'ingress-class': { schema: z.string().min(1).default('pier'), help: 'class name the kubernetes.io/ingress.class annotation must carry' },
  'controller-class': { schema: z.string().min(1).default('pier.dev/ingress-controller'), help: 'spec.controller of the IngressClasses that Pier serves' },
  'watch-ingress-without-class': { schema: booleanFlag.default(false), help: 'also serve Ingresses that name no class', boolean: true },
  'default-backend-service': { schema: namespacedName.optional(), help: 'namespace/name of the Service for requests that match nothing' },
  'default-ssl-certificate': { schema: namespacedName.optional(), help: 'namespace/name of the TLS Secret served when no certificate matches' },
  'publish-service': { schema: namespacedName.optional(), help: "namespace/name of the Service whose address goes into Ingress status" },
  'publish-status-address': { schema: z.string().min(1).optional(), help: 'comma-separated addresses to write into Ingress status' },
  'election-id': { schema: z.string().min(1).default('pier-leader'), help: 'name of the leader-election Lease' },
  configmap: { schema: namespacedName.optional(), help: "namespace/name of the controller's ConfigMap" },
  'tcp-services-configmap': { schema: namespacedName.optional(), help: 'namespace/name of the ConfigMap of TCP services ("<port>": "<namespace>/<service>:<port>[:PROXY][:PROXY]")' },
  'udp-services-configmap': { schema: namespacedName.optional(), help: 'namespace/name of the ConfigMap of UDP services ("<port>": "<namespace>/<service>:<port>")' },
  'enable-ssl-passthrough': { schema: booleanFlag.default(false), help: 'let the ssl-passthrough annotation send TLS connections to the backend unterminated, chosen by the ClientHello\'s server name', boolean: true },
  'enable-auth-proxy-set-headers': {
    schema: booleanFlag.default(false),
    help: "read the ConfigMaps auth-proxy-set-headers names (watches every ConfigMap of the watched namespaces; off: such locations answer 503)",
    boolean: true,
  },
  'annotations-prefix': { schema: z.string().min(1).default('nginx.ingress.kubernetes.io'), help: 'prefix of the annotations Pier reads' },
  'watch-namespace': { schema: z.string().min(1).optional(), help: 'watch only this namespace (default: all)' },
  'proxy-connect-timeout': { schema: duration.default(5000), help: 'timeout for connecting to an upstream (default 5s)' },
  'proxy-read-timeout': { schema: duration.default(60_000), help: 'timeout between two reads from an upstream (default 60s)' },
  'proxy-send-timeout': { schema: duration.default(60_000), help: 'timeout between two writes to an upstream (default 60s)' },
  workers: {
    // Read once here, at the edge, like every other default.
    schema: z.coerce.number().int().min(1).default(() => workersFor(readCgroupCpuLimit(), availableParallelism())),
    help: "proxy worker processes sharing the HTTP/HTTPS ports (default: the CPUs the container's CPU limit allows, else the machine's; 1 runs one process)",
  },
  dashboard: { schema: booleanFlag.default(true), help: 'serve the read-only dashboard at /dashboard on the healthz port (--dashboard=false turns it off)', boolean: true },
  'shutdown-grace-period': { schema: duration.default(30_000), help: 'how long to let requests under way finish on SIGTERM (default 30s)' },
  output: { schema: z.enum(['table', 'json']).default('table'), help: '`pier routes` and `pier audit` output: table or json' },
  strict: { schema: booleanFlag.default(false), help: '`pier audit`: exit 1 when an annotation is invalid, unsupported, refused or unknown', boolean: true },
  'log-level': { schema: z.enum(['debug', 'info', 'warn', 'error']).default('info'), help: 'log verbosity' },
  help: { schema: booleanFlag.default(false), help: 'print this help', boolean: true },
} as const;

type FlagName = keyof typeof FLAGS;
type FlagValues = { [K in FlagName]: z.output<(typeof FLAGS)[K]['schema']> };

export const COMMANDS = ['serve', 'routes', 'controller', 'audit'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Config {
  readonly command: Command | 'help';
  readonly flags: FlagValues;
}

const BOOLEAN_FLAGS = new Set(Object.entries(FLAGS).filter(([, flag]) => 'boolean' in flag).map(([name]) => `--${name}`));

/** Go's flag package lets a boolean stand alone or take `=true`; parseArgs can't, so bare ones become `=true`. */
function normalizeBooleans(args: readonly string[]): string[] {
  return args.map((arg) => (BOOLEAN_FLAGS.has(arg) ? `${arg}=true` : arg));
}

export function parseConfig(argv: readonly string[]): Config {
  let parsed;
  try {
    parsed = parseArgs({
      args: normalizeBooleans(argv),
      options: Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: 'string' as const }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new FlagError((error as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const [command, ...extra] = parsed.positionals;
  const helpAsked = parsed.values.help === 'true';
  if (command === undefined || command === 'help') return { command: 'help', flags: parseFlagValues({}) };
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new FlagError(`unknown command "${command}"; expected one of: ${COMMANDS.join(', ')}`);
  }
  if (extra.length > 0) throw new FlagError(`unexpected argument "${extra[0]}"`);
  const flags = parseFlagValues(parsed.values as Record<string, string | undefined>);
  if (helpAsked) return { command: 'help', flags };
  if ((command === 'serve' || command === 'routes') && !flags.manifests) {
    throw new FlagError(`pier ${command} needs --manifests DIR`);
  }
  return { command: command as Command, flags };
}

function parseFlagValues(raw: Record<string, string | undefined>): FlagValues {
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(FLAGS)) {
    const result = (flag.schema as z.ZodType).safeParse(raw[name]);
    if (!result.success) {
      const message = result.error.issues.map((issue) => issue.message).join('; ');
      throw new FlagError(`invalid value "${raw[name]}" for --${name}: ${message}`);
    }
    values[name] = result.data;
  }
  return values as FlagValues;
}

export function helpText(): string {
  const lines = Object.entries(FLAGS).map(([name, flag]) => `  --${name.padEnd(30)} ${flag.help}`);
  return [
    'Usage: pier <command> [flags]',
    '',
    'Commands:',
    '  serve --manifests DIR   serve the Ingresses in DIR, watching it for changes (no cluster needed)',
    '  routes --manifests DIR  print the route table and warnings computed from DIR',
    '  controller              run in (or against) a Kubernetes cluster',
    '  audit                   what changes for each Ingress (any class) under Pier: --manifests DIR, or the cluster',
    '',
    'Flags:',
    ...lines,
    '',
  ].join('\n');
}
