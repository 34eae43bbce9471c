// upstream-vhost: the Host header the backend gets instead of the client's (X-Forwarded-Host
// still carries the client's).
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';

export interface UpstreamVhostConfig {
  readonly host: string | undefined;
}

/** A host name with an optional port; nginx variables (`$host`...) are not evaluated by Pier. */
const hostText = z
  .string()
  .trim()
  .regex(/^[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?(:\d{1,5})?$/, 'must be a host name, optionally with :port (nginx variables are not evaluated by Pier)');

export const upstreamVhostFamily: AnnotationFamily<'upstreamVhost', UpstreamVhostConfig> = {
  name: 'upstreamVhost',
  keys: ['upstream-vhost'],
  scope: 'location',
  parse: (read) => ({ host: read.get('upstream-vhost', hostText) }),
};
