// The few nginx variables Pier evaluates, where ingress-nginx's annotations are nginx text that
// users fill with them: auth-cache-key (`$remote_user$http_authorization`) and the values of an
// auth-proxy-set-headers ConfigMap. A template is checked when routes are computed (an unknown
// variable is reported there) and compiled once per table; evaluating it reads the request only.
import type { Exchange } from './pipeline.ts';
import { basicCredentials } from './basic-auth.ts';

/** Variables known by name; `$http_<name>`, `$cookie_<name>` and `$arg_<name>` are known by prefix. */
const NAMED = ['remote_addr', 'remote_user', 'host', 'http_host', 'scheme', 'pass_access_scheme', 'request_uri', 'uri', 'request_method', 'args', 'query_string'] as const;
const PREFIXED = ['http_', 'cookie_', 'arg_'] as const;
/** `$name` or `${name}`, as nginx reads them. */
const VARIABLE = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;

type Part = string | ((exchange: Exchange) => string);

/** A template's text parts and variables, in order. */
export type CompiledTemplate = readonly Part[];

/** The variables of `template` that Pier doesn't evaluate (empty: it can be compiled). */
export function unknownVariables(template: string): string[] {
  return [...template.matchAll(VARIABLE)].map((match) => (match[1] ?? match[2]) as string).filter((name) => variable(name) === null).map((name) => `$${name}`);
}

/** The template's parts; an unknown variable (checked by unknownVariables first) reads as ''. */
export function compileTemplate(template: string): CompiledTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const match of template.matchAll(VARIABLE)) {
    if (match.index > last) parts.push(template.slice(last, match.index));
    parts.push(variable((match[1] ?? match[2]) as string) ?? '');
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return parts;
}

export function evaluateTemplate(template: CompiledTemplate, exchange: Exchange): string {
  let text = '';
  for (const part of template) text += typeof part === 'string' ? part : part(exchange);
  return text;
}

function variable(name: string): ((exchange: Exchange) => string) | null {
  const lower = name.toLowerCase();
  if ((NAMED as readonly string[]).includes(lower)) return namedVariable(lower as (typeof NAMED)[number]);
  const prefix = PREFIXED.find((candidate) => lower.startsWith(candidate) && lower.length > candidate.length);
  if (prefix === undefined) return null;
  const rest = lower.slice(prefix.length);
  if (prefix === 'http_') {
    const header = rest.replaceAll('_', '-');
    return (exchange) => headerText(exchange, header);
  }
  if (prefix === 'cookie_') return (exchange) => cookieValue(headerText(exchange, 'cookie'), name.slice(prefix.length), true) ?? '';
  return (exchange) => argumentValue(queryOf(exchange.requested.url), name.slice(prefix.length));
}

function namedVariable(name: (typeof NAMED)[number]): (exchange: Exchange) => string {
  switch (name) {
    case 'remote_addr': return (exchange) => exchange.clientAddress;
    // nginx's $remote_user: the Basic credentials' user, read as basic auth reads them, whether or not the location checks them.
    case 'remote_user': return (exchange) => basicCredentials(headerText(exchange, 'authorization'))?.user ?? '';
    case 'host': return (exchange) => exchange.host;
    case 'http_host': return (exchange) => exchange.requested.host ?? '';
    case 'scheme':
    case 'pass_access_scheme': return (exchange) => (exchange.secure ? 'https' : 'http');
    case 'request_uri': return (exchange) => exchange.requested.url;
    case 'uri': return (exchange) => exchange.path;
    case 'request_method': return (exchange) => exchange.upstream.method;
    case 'args':
    case 'query_string': return (exchange) => queryOf(exchange.requested.url);
  }
}

function headerText(exchange: Exchange, name: string): string {
  const value = exchange.clientHeaders[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function queryOf(url: string): string {
  const mark = url.indexOf('?');
  return mark === -1 ? '' : url.slice(mark + 1);
}

/** nginx's $arg_<name>: the first such argument, as sent (not decoded); names compare without case. */
function argumentValue(query: string, name: string): string {
  const wanted = name.toLowerCase();
  for (const pair of query.split('&')) {
    const equals = pair.indexOf('=');
    const key = equals === -1 ? pair : pair.slice(0, equals);
    if (key.toLowerCase() === wanted) return equals === -1 ? '' : pair.slice(equals + 1);
  }
  return '';
}

/**
 * The first cookie named `name` in a Cookie header, or undefined. nginx's $cookie_<name> compares
 * names without case (`anyCase`); the affinity and canary cookies are looked up exactly, as Lua's resty.cookie does.
 */
export function cookieValue(header: string, name: string, anyCase: boolean): string | undefined {
  const wanted = anyCase ? name.toLowerCase() : name;
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals === -1) continue;
    const key = pair.slice(0, equals).trim();
    if ((anyCase ? key.toLowerCase() : key) === wanted) return pair.slice(equals + 1).trim();
  }
  return undefined;
}
