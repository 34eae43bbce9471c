// Endpoint updates in place (ProxyServer.updateEndpoints, what endpoint churn uses instead of a
// swap), on real sockets with real upstreams: traffic follows the new endpoints, other upstreams
// and routes are untouched, an unknown upstream changes nothing, and no request fails meanwhile.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Agent } from 'node:http';
import type { Endpoint, RouteTableSpec } from '../../operator/routes/types.ts';
import { Resources, send, startProxy, startUpstream } from '../helpers/upstreams.ts';

const WEB = 'default/web:80';
const API = 'default/api:80';

/** web.example → Service web, api.example → Service api. */
function table(web: readonly Endpoint[], api: readonly Endpoint[]): RouteTableSpec {
  const route = (upstream: string, name: string) => ({ path: '/', match: 'prefix' as const, pathType: 'Prefix', upstream, ingress: { namespace: 'default', name } });
  return {
    virtualHosts: [
      { host: 'api.example', routes: [route(API, 'api')], fallback: null },
      { host: 'web.example', routes: [route(WEB, 'web')], fallback: null },
    ],
    defaultBackend: null,
    upstreams: [
      { id: API, namespace: 'default', service: 'api', servicePort: '80', endpoints: api },
      { id: WEB, namespace: 'default', service: 'web', servicePort: '80', endpoints: web },
    ],
  };
}

describe('updating endpoints in place', { timeout: 20_000 }, () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll(), { timeout: 5000 });

  it('sends new requests to the new endpoints, and leaves other upstreams alone', async () => {
    const a = await startUpstream(resources, (_req, res) => res.end('a'));
    const b = await startUpstream(resources, (_req, res) => res.end('b'));
    const proxy = await startProxy(resources);
    proxy.server.swap(table([a.endpoint], [a.endpoint]));
    assert.equal((await send(proxy.ports.http, { host: 'web.example' })).body.toString(), 'a');

    assert.equal(proxy.server.updateEndpoints([{ id: WEB, namespace: 'default', service: 'web', servicePort: '80', endpoints: [b.endpoint] }]), true);
    assert.equal((await send(proxy.ports.http, { host: 'web.example' })).body.toString(), 'b');
    assert.equal((await send(proxy.ports.http, { host: 'api.example' })).body.toString(), 'a');
  });

  it('answers 503 once an upstream has no endpoints left, and serves again when one comes back', async () => {
    const a = await startUpstream(resources, (_req, res) => res.end('a'));
    const proxy = await startProxy(resources);
    proxy.server.swap(table([a.endpoint], [a.endpoint]));
    proxy.server.updateEndpoints([{ id: WEB, namespace: 'default', service: 'web', servicePort: '80', endpoints: [] }]);
    assert.equal((await send(proxy.ports.http, { host: 'web.example' })).status, 503);
    proxy.server.updateEndpoints([{ id: WEB, namespace: 'default', service: 'web', servicePort: '80', endpoints: [a.endpoint] }]);
    assert.equal((await send(proxy.ports.http, { host: 'web.example' })).body.toString(), 'a');
  });

  it('refuses an upstream the table does not have, and changes nothing then', async () => {
    const a = await startUpstream(resources, (_req, res) => res.end('a'));
    const b = await startUpstream(resources, (_req, res) => res.end('b'));
    const proxy = await startProxy(resources);
    proxy.server.swap(table([a.endpoint], [a.endpoint]));
    const accepted = proxy.server.updateEndpoints([
      { id: WEB, namespace: 'default', service: 'web', servicePort: '80', endpoints: [b.endpoint] },
      { id: 'default/absent:80', namespace: 'default', service: 'absent', servicePort: '80', endpoints: [b.endpoint] },
    ]);
    assert.equal(accepted, false);
    assert.equal((await send(proxy.ports.http, { host: 'web.example' })).body.toString(), 'a');
  });

  it('loses no request while the endpoints change 150 times under keep-alive load', async () => {
    const a = await startUpstream(resources, (_req, res) => res.end('a'));
    const b = await startUpstream(resources, (_req, res) => res.end('b'));
    const proxy = await startProxy(resources);
    proxy.server.swap(table([a.endpoint], [a.endpoint]));
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    resources.add(() => agent.destroy());

    let updating = true;
    const failures: string[] = [];
    const answers = new Map<string, number>();
    const loop = async (): Promise<void> => {
      while (updating) {
        try {
          const response = await send(proxy.ports.http, { agent, host: 'web.example' });
          const body = response.body.toString();
          if (response.status !== 200) failures.push(`${response.status} ${body}`);
          answers.set(body, (answers.get(body) ?? 0) + 1);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    const sets = [[a.endpoint], [b.endpoint], [a.endpoint, b.endpoint]];
    for (let update = 0; update < 150; update++) {
      proxy.server.updateEndpoints([{ id: WEB, namespace: 'default', service: 'web', servicePort: '80', endpoints: sets[update % sets.length]! }]);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    updating = false;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
    assert.ok((answers.get('a') ?? 0) > 0 && (answers.get('b') ?? 0) > 0, `both endpoints answered: ${JSON.stringify([...answers])}`);
  });
});
