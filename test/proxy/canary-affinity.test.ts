// Canary releases, sticky sessions, consistent hashing and ewma on real sockets, with several real
// endpoints per Service (each answers its own name). Behaviour from ingress-nginx's docs
// (annotations.md "Canary", "Session Affinity", "Custom NGINX upstream hashing"), its balancer.lua
// and test/e2e/annotations/canary.go, affinity.go. Distributions are checked against bounds four
// standard deviations wide, so a correct balancer fails them about once in 15,000 runs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { Resources, send, startUpstream } from '../helpers/upstreams.ts';
import { endpointSlice, service, simpleIngress } from '../helpers/objects.ts';
import { rawRequest, statusOf, WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

/** Service `name` with one endpoint per port (127.0.0.1 each), one EndpointSlice per endpoint. */
function serviceOn(name: string, ports: readonly number[]): KubeObject[] {
  return [service(name, [{ name: 'http', port: 80 }]), ...ports.map((port, i) => endpointSlice(`${name}-${i}`, name, ['127.0.0.1'], [{ name: 'http', port }]))];
}

/** The `name=value` pairs a client keeps from Set-Cookie headers, as a Cookie header. */
function cookieJar(setCookie: string | string[] | undefined, jar = new Map<string, string>()): Map<string, string> {
  for (const line of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
    const [pair = ''] = line.split(';');
    const equals = pair.indexOf('=');
    jar.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  return jar;
}
const cookieHeader = (jar: Map<string, string>): string[] => (jar.size === 0 ? [] : ['Cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; ')]);

describe('canary, affinity and hashing on real sockets', { timeout: 120_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  /** Ports of the main Service's endpoints v1-a..v1-d, and of the canary's v2. */
  const mainPorts: number[] = [];
  let canaryPort = 0;
  let slowPort = 0;
  let fastPort = 0;

  before(async () => {
    // Each also takes WebSocket upgrades, answering 101 with its name, so upgrades can be told apart.
    const named = async (name: string): Promise<number> => {
      const upstream = await startUpstream(resources, (_req, res) => res.end(name));
      upstream.server.on('upgrade', (_req, socket) => socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Served-By: ${name}\r\n\r\n`));
      return upstream.port;
    };
    for (const name of ['v1-a', 'v1-b', 'v1-c', 'v1-d']) mainPorts.push(await named(name));
    canaryPort = await named('v2');
    slowPort = (await startUpstream(resources, (_req, res) => setTimeout(() => res.end('slow'), 40))).port;
    fastPort = (await startUpstream(resources, (_req, res) => res.end('fast'))).port;
    proxy = await startTlsProxy(resources);
  });
  after(() => resources.closeAll());

  const body = async (host: string, headers: string[] = [], path = '/'): Promise<string> => (await send(proxy.http, { host, path, headers })).body.toString();
  const tally = async (host: string, count: number, headers: string[] = []): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const name = await body(host, headers);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return counts;
  };
  const mainIngress = (host: string, annotations: Record<string, string> = {}): KubeObject => simpleIngress(`main-${host.split('.')[0]}`, host, '/', 'v1', { createdAt: '2026-01-01T00:00:00Z', annotations });
  const canaryIngress = (host: string, annotations: Record<string, string>, serviceName = 'v2'): KubeObject =>
    simpleIngress(`canary-${host.split('.')[0]}`, host, '/', serviceName, { createdAt: '2026-01-02T00:00:00Z', annotations: { [`${A}/canary`]: 'true', ...annotations } });

  describe('canary', () => {
    before(() => {
      proxy.apply([
        ...serviceOn('v1', mainPorts.slice(0, 2)),
        ...serviceOn('v2', [canaryPort]),
        service('v3-none', [{ name: 'http', port: 80 }]),
        mainIngress('weight.example'),
        canaryIngress('weight.example', { [`${A}/canary-weight`]: '20' }),
        mainIngress('rules.example'),
        canaryIngress('rules.example', { [`${A}/canary-by-header`]: 'X-Canary', [`${A}/canary-by-cookie`]: 'canary' }),
        mainIngress('value.example'),
        canaryIngress('value.example', { [`${A}/canary-by-header`]: 'X-Region', [`${A}/canary-by-header-value`]: 'us-east', [`${A}/canary-weight`]: '0' }),
        mainIngress('pattern.example'),
        canaryIngress('pattern.example', { [`${A}/canary-by-header`]: 'X-Region', [`${A}/canary-by-header-pattern`]: '^eu-(west|north)$' }),
        mainIngress('total.example'),
        canaryIngress('total.example', { [`${A}/canary-weight`]: '1', [`${A}/canary-weight-total`]: '1' }),
        mainIngress('empty.example'),
        canaryIngress('empty.example', { [`${A}/canary-weight`]: '100' }, 'v3-none'),
      ]);
    });

    it('sends canary-weight 20 of 100 to the canary: 1,000 requests land within four standard deviations of 200', async () => {
      const counts = await tally('weight.example', 1000);
      const toCanary = counts.get('v2') ?? 0;
      assert.ok(toCanary >= 150 && toCanary <= 250, `${toCanary} of 1000 went to the canary`);
      assert.equal((counts.get('v1-a') ?? 0) + (counts.get('v1-b') ?? 0) + toCanary, 1000);
    });

    it('follows canary-by-header always and never, then canary-by-cookie, then the weight (0 here)', async () => {
      const table: [string[], string][] = [
        [['X-Canary', 'always'], 'v2'],
        [['X-Canary', 'never', 'Cookie', 'canary=always'], 'v1'],
        [['X-Canary', 'maybe', 'Cookie', 'canary=always'], 'v2'],
        [['Cookie', 'canary=always'], 'v2'],
        [['Cookie', 'canary=never'], 'v1'],
        [['Cookie', 'canary=yes'], 'v1'],
        [[], 'v1'],
      ];
      for (const [headers, expected] of table) assert.equal((await body('rules.example', headers)).slice(0, 2), expected, `with ${headers.join(': ') || 'nothing'}`);
    });

    it('takes canary-by-header-value exactly, and a header matching canary-by-header-pattern', async () => {
      assert.equal(await body('value.example', ['X-Region', 'us-east']), 'v2');
      assert.equal((await body('value.example', ['X-Region', 'always'])).slice(0, 2), 'v1', 'with a value set, "always" is just another value');
      assert.equal(await body('pattern.example', ['X-Region', 'eu-north']), 'v2');
      assert.equal((await body('pattern.example', ['X-Region', 'eu-south'])).slice(0, 2), 'v1');
    });

    it('decides a WebSocket upgrade the same way: by header to the canary, and never to it with "never"', async () => {
      const servedBy = async (canary: string): Promise<string> => {
        const answer = await rawRequest(proxy.http, `GET /ws HTTP/1.1\r\nHost: rules.example\r\nX-Canary: ${canary}\r\n${WEBSOCKET_UPGRADE}\r\n`);
        assert.equal(statusOf(answer), 101);
        return /x-served-by: (\S+)/i.exec(answer)?.[1] ?? '';
      };
      assert.equal(await servedBy('always'), 'v2');
      assert.equal((await servedBy('never')).slice(0, 2), 'v1');
    });

    it('sends everything to the canary when canary-weight equals canary-weight-total', async () => {
      assert.deepEqual([...(await tally('total.example', 20))], [['v2', 20]]);
    });

    it('sends nothing to a canary without endpoints, whatever its weight', async () => {
      const counts = await tally('empty.example', 20);
      assert.equal(counts.get('v2') ?? 0, 0);
      assert.equal((counts.get('v1-a') ?? 0) + (counts.get('v1-b') ?? 0), 20);
    });
  });

  describe('cookie affinity', () => {
    let objects: KubeObject[];
    const sticky = (mode: string): Record<string, string> => ({ [`${A}/affinity`]: 'cookie', [`${A}/affinity-mode`]: mode });
    const apply = (ports: readonly number[], extra: KubeObject[] = []): void => {
      proxy.apply([...objects, ...serviceOn('v1', ports), ...extra]);
    };

    before(() => {
      objects = [
        ...serviceOn('v2', [canaryPort]),
        mainIngress('balanced.example', sticky('balanced')),
        mainIngress('persistent.example', sticky('persistent')),
        mainIngress('cookie.example', { ...sticky('balanced'), [`${A}/session-cookie-name`]: 'ExpiresCookie', [`${A}/session-cookie-expires`]: '172800', [`${A}/session-cookie-max-age`]: '259200', [`${A}/session-cookie-samesite`]: 'None', [`${A}/session-cookie-conditional-samesite-none`]: 'true', [`${A}/session-cookie-domain`]: 'foo.bar' }),
        mainIngress('sticky-canary.example', sticky('persistent')),
        canaryIngress('sticky-canary.example', { [`${A}/canary-weight`]: '50' }),
      ];
      apply(mainPorts.slice(0, 3));
    });

    /** `count` new sessions on `host`: each session's jar and the endpoint that served its first request. */
    const sessions = async (host: string, count: number): Promise<{ jar: Map<string, string>; endpoint: string }[]> => {
      const made = [];
      for (let i = 0; i < count; i++) {
        const response = await send(proxy.http, { host });
        made.push({ jar: cookieJar(response.headers['set-cookie']), endpoint: response.body.toString() });
      }
      return made;
    };
    const servedBy = async (host: string, jar: Map<string, string>): Promise<string> => body(host, cookieHeader(jar));

    it('sets INGRESSCOOKIE on the first answer, HttpOnly, with the location\'s path, and not again once the client has it', async () => {
      const first = await send(proxy.http, { host: 'balanced.example' });
      const setCookie = String(first.headers['set-cookie']);
      assert.match(setCookie, /^INGRESSCOOKIE=[0-9a-f]+\|[0-9a-f]+; Path=\/; HttpOnly$/);
      const again = await send(proxy.http, { host: 'balanced.example', headers: cookieHeader(cookieJar(first.headers['set-cookie'])) });
      assert.equal(again.headers['set-cookie'], undefined);
      assert.equal(again.body.toString(), first.body.toString());
    });

    it('writes Expires in nginx\'s cookie_time format, Max-Age, Domain, and SameSite=None only for user agents that handle it', async () => {
      const modern = String((await send(proxy.http, { host: 'cookie.example', headers: ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'] })).headers['set-cookie']);
      // ingress-nginx's e2e test formats the expected date as "Mon, 02-Jan-06 15:04" in GMT.
      const expires = new Date(Date.now() + 172_800_000);
      const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][expires.getUTCDay()];
      const month = expires.toUTCString().split(' ')[2];
      assert.match(modern, new RegExp(`^ExpiresCookie=[^;]+; Expires=${day}, ${String(expires.getUTCDate()).padStart(2, '0')}-${month}-${String(expires.getUTCFullYear() % 100).padStart(2, '0')} \\d\\d:\\d\\d:\\d\\d GMT; Max-Age=259200; Domain=foo.bar; Path=/; HttpOnly; SameSite=None$`));
      const chrome60 = String((await send(proxy.http, { host: 'cookie.example', headers: ['User-Agent', 'Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.113 Safari/537.36'] })).headers['set-cookie']);
      assert.doesNotMatch(chrome60, /SameSite/);
    });

    it('keeps 30 sessions on their endpoints through 100 configuration changes', async () => {
      for (const host of ['balanced.example', 'persistent.example']) {
        const made = await sessions(host, 30);
        for (let change = 0; change < 100; change++) apply(mainPorts.slice(0, 3), [simpleIngress(`unrelated-${change}`, `other-${change}.example`, '/', 'v2')]);
        const moved = [];
        for (const session of made) if ((await servedBy(host, session.jar)) !== session.endpoint) moved.push(session.endpoint);
        assert.deepEqual(moved, [], `${host}: sessions that moved`);
      }
    });

    it('moves no persistent session when an endpoint is added, and only to the new endpoint (about 1 in 4) for balanced ones', async () => {
      apply(mainPorts.slice(0, 3));
      const persistent = await sessions('persistent.example', 40);
      const balanced = await sessions('balanced.example', 40);
      apply(mainPorts);
      for (const session of persistent) assert.equal(await servedBy('persistent.example', session.jar), session.endpoint);
      const movedTo: string[] = [];
      for (const session of balanced) {
        const now = await servedBy('balanced.example', session.jar);
        if (now !== session.endpoint) movedTo.push(now);
      }
      // Binomial(40, 1/4): mean 10, standard deviation 2.7.
      assert.ok(movedTo.length <= 21, `${movedTo.length} of 40 balanced sessions moved`);
      assert.ok(movedTo.every((endpoint) => endpoint === 'v1-d'), `moved to ${movedTo.join(', ')}`);
    });

    it('moves a session whose endpoint leaves, with a new cookie, and leaves the others where they are', async () => {
      apply(mainPorts.slice(0, 3));
      const made = await sessions('persistent.example', 30);
      apply([mainPorts[0] as number, mainPorts[2] as number]);
      for (const session of made) {
        const response = await send(proxy.http, { host: 'persistent.example', headers: cookieHeader(session.jar) });
        if (session.endpoint === 'v1-b') {
          assert.notEqual(response.body.toString(), 'v1-b');
          assert.match(String(response.headers['set-cookie']), /^INGRESSCOOKIE=/);
        } else {
          assert.equal(response.body.toString(), session.endpoint);
          assert.equal(response.headers['set-cookie'], undefined);
        }
      }
    });

    it('keeps a session that started on the canary on the canary, and one that started on the main Service there (affinity-canary-behavior sticky)', async () => {
      apply(mainPorts.slice(0, 3));
      const made = await sessions('sticky-canary.example', 40);
      assert.ok(made.some((session) => session.endpoint === 'v2') && made.some((session) => session.endpoint !== 'v2'), 'weight 50 sends sessions both ways');
      for (const session of made) {
        for (let i = 0; i < 5; i++) assert.equal(await servedBy('sticky-canary.example', session.jar), session.endpoint);
      }
    });
  });

  describe('upstream-hash-by and ewma', () => {
    let objects: KubeObject[];
    before(() => {
      objects = [
        mainIngress('hash.example', { [`${A}/upstream-hash-by`]: '$request_uri' }),
        mainIngress('subset.example', { [`${A}/upstream-hash-by`]: '$http_x_user', [`${A}/upstream-hash-by-subset`]: 'true', [`${A}/upstream-hash-by-subset-size`]: '2' }),
        ...serviceOn('mixed', [slowPort, fastPort]),
        simpleIngress('ewma', 'ewma.example', '/', 'mixed', { annotations: { [`${A}/load-balance`]: 'ewma' } }),
      ];
      proxy.apply([...objects, ...serviceOn('v1', mainPorts.slice(0, 3))]);
    });

    const uris = Array.from({ length: 300 }, (_, i) => `/item/${i}?v=${i * 7}`);
    const placement = async (): Promise<string[]> => {
      const placed = [];
      for (const uri of uris) placed.push(await body('hash.example', [], uri));
      return placed;
    };

    it('sends each request URI to one endpoint, every time, and spreads 300 URIs over the three', async () => {
      const first = await placement();
      assert.deepEqual(await placement(), first);
      for (const name of ['v1-a', 'v1-b', 'v1-c']) {
        const share = first.filter((endpoint) => endpoint === name).length;
        // Binomial(300, 1/3): mean 100, standard deviation 8.2.
        assert.ok(share >= 67 && share <= 133, `${name} took ${share} of 300`);
      }
    });

    it('moves only the URIs the added endpoint takes over (about 1 in 4), and none between the old ones', async () => {
      proxy.apply([...objects, ...serviceOn('v1', mainPorts.slice(0, 3))]);
      const before = await placement();
      proxy.apply([...objects, ...serviceOn('v1', mainPorts)]);
      const after = await placement();
      const moved = after.filter((endpoint, i) => endpoint !== before[i]);
      assert.ok(moved.every((endpoint) => endpoint === 'v1-d'), 'a moved URI goes to the new endpoint only');
      // Binomial(300, 1/4): mean 75, standard deviation 7.5.
      assert.ok(moved.length >= 45 && moved.length <= 105, `${moved.length} of 300 moved`);
    });

    it('keeps one user within one subset of two endpoints with upstream-hash-by-subset', async () => {
      proxy.apply([...objects, ...serviceOn('v1', mainPorts)]);
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) seen.add(await body('subset.example', ['X-User', 'alice']));
      assert.ok(seen.size >= 1 && seen.size <= 2, `alice reached ${[...seen].join(', ')}`);
    });

    it('sends most requests to the faster endpoint with load-balance ewma', async () => {
      const counts = await tally('ewma.example', 200);
      // Two random picks (with replacement) both land on the slow endpoint a quarter of the time.
      assert.ok((counts.get('fast') ?? 0) >= 120, `fast ${counts.get('fast') ?? 0}, slow ${counts.get('slow') ?? 0}`);
    });
  });
});
