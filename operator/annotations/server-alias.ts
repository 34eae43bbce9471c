// server-alias: more host names for the server blocks of this Ingress's hosts (nginx's
// server_name), comma-separated. Requests for an alias are routed as for the host itself, across
// every Ingress of that host. Each alias must be a host name Kubernetes would take in a rule.
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';
import { checkHost } from '../routes/validation.ts';

export interface ServerAliasConfig {
  readonly aliases: readonly string[];
}

const aliasList = z.string().transform((value, context) => {
  const aliases: string[] = [];
  for (const item of value.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const checked = checkHost(item);
    if (!checked.ok) {
      context.addIssue({ code: 'custom', message: checked.error });
      return z.NEVER;
    }
    if (!aliases.includes(checked.value)) aliases.push(checked.value);
  }
  return aliases;
});

export const serverAliasFamily: AnnotationFamily<'serverAlias', ServerAliasConfig> = {
  name: 'serverAlias',
  keys: ['server-alias'],
  scope: 'server',
  parse: (read) => ({ aliases: read.get('server-alias', aliasList) ?? [] }),
};
