// auth-type: basic on real sockets, against htpasswd hashes made by the tools users make them with
// (openssl passwd -apr1, the system's crypt(3) through Python for bcrypt and DES, sha1 for {SHA}),
// as ingress-nginx's docs/examples/auth/basic and test/e2e/annotations/auth.go use them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { parseObject, type KubeObject } from '../../operator/model.ts';
import { Resources, send, startUpstream } from '../helpers/upstreams.ts';
import { simpleIngress } from '../helpers/objects.ts';
import { rawRequest, statusOf, WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

const pythonCrypt = (password: string, salt: string): string =>
  execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]))', password, salt], { encoding: 'utf8' }).trim();
const bcryptSalt = (): string => execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt; print(crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))'], { encoding: 'utf8' }).trim();

/** One htpasswd line per hash format, each user's password `<user>-pw`. */
function htpasswdFile(): string {
  const bcrypt = pythonCrypt('bob-pw', bcryptSalt());
  return [
    `alice:${execFileSync('openssl', ['passwd', '-apr1', 'alice-pw'], { encoding: 'utf8' }).trim()}`,
    `bob:${bcrypt}`,
    `# htpasswd -B writes $2y$, the same algorithm: bobby has bob's password`,
    `bobby:${bcrypt.replace(/^\$2b\$/, '$2y$')}`,
    `carol:{SHA}${createHash('sha1').update('carol-pw').digest('base64')}`,
    `dave:${pythonCrypt('dave-pw', 'ab')}`,
    '',
  ].join('\n');
}

function secret(name: string, data: Record<string, string>): KubeObject {
  const parsed = parseObject({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')])) }, 'Secret');
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.object;
}

const basic = (user: string, password: string): string[] => ['Authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`];

describe('basic authentication', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;

  before(async () => {
    const upstream = await startUpstream(resources, (req, res) => res.end(`backend saw ${req.headers.authorization ? 'credentials' : 'none'}`));
    proxy = await startTlsProxy(resources);
    const guarded = (name: string, annotations: Record<string, string>): KubeObject => simpleIngress(name, `${name}.example`, '/', 'web', { annotations });
    const result = proxy.apply([
      ...localService('web', upstream.port),
      secret('basic-auth', { auth: htpasswdFile() }),
      secret('map-auth', { erin: pythonCrypt('erin-pw', 'cd') }),
      guarded('file', { [`${A}/auth-type`]: 'basic', [`${A}/auth-secret`]: 'basic-auth', [`${A}/auth-realm`]: 'Authentication Required - foo' }),
      guarded('map', { [`${A}/auth-type`]: 'basic', [`${A}/auth-secret`]: 'default/map-auth', [`${A}/auth-secret-type`]: 'auth-map' }),
      guarded('missing', { [`${A}/auth-type`]: 'basic', [`${A}/auth-secret`]: 'no-such-secret' }),
      guarded('digest', { [`${A}/auth-type`]: 'digest', [`${A}/auth-secret`]: 'basic-auth' }),
      guarded('external', { [`${A}/auth-tls-verify-client`]: 'on', [`${A}/auth-tls-secret`]: 'default/client-ca' }),
    ]);
    assert.deepEqual(result.warnings.map((warning) => `${warning.name} ${warning.reason}`).sort(), ['digest AuthSecretInvalid', 'external UnsupportedAnnotation', 'external UnsupportedAnnotation', 'missing AuthSecretInvalid']);
  });
  after(() => resources.closeAll());

  it('asks for credentials with 401 and the realm, and the backend sees nothing', async () => {
    const response = await send(proxy.http, { host: 'file.example' });
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Basic realm="Authentication Required - foo"');
  });

  for (const [user, password, format] of [['alice', 'alice-pw', 'apr1'], ['bob', 'bob-pw', 'bcrypt $2b$'], ['bobby', 'bob-pw', 'bcrypt $2y$'], ['carol', 'carol-pw', '{SHA}'], ['dave', 'dave-pw', 'crypt']] as const) {
    it(`lets ${user} in with the right password (${format}), and not with another`, async () => {
      assert.equal((await send(proxy.http, { host: 'file.example', headers: basic(user, password) })).body.toString(), 'backend saw credentials');
      assert.equal((await send(proxy.http, { host: 'file.example', headers: basic(user, 'wrong') })).status, 401);
    });
  }

  it('answers 401 to an unknown user, a malformed header, and another scheme', async () => {
    const statuses = await Promise.all([
      send(proxy.http, { host: 'file.example', headers: basic('mallory', 'alice-pw') }),
      send(proxy.http, { host: 'file.example', headers: ['Authorization', 'Basic !!!'] }),
      send(proxy.http, { host: 'file.example', headers: ['Authorization', 'Bearer abc'] }),
    ]);
    assert.deepEqual(statuses.map((response) => response.status), [401, 401, 401]);
  });

  it('reads an auth-map Secret: one key per user', async () => {
    assert.equal((await send(proxy.http, { host: 'map.example', headers: basic('erin', 'erin-pw') })).status, 200);
    assert.equal((await send(proxy.http, { host: 'map.example' })).headers['www-authenticate'], 'Basic realm=""');
  });

  it('closes the location (503) when the Secret is missing, the type is digest, or the guard is one Pier lacks', async () => {
    const statuses = await Promise.all(['missing', 'digest', 'external'].map((name) => send(proxy.http, { host: `${name}.example`, headers: basic('alice', 'alice-pw') })));
    assert.deepEqual(statuses.map((response) => response.status), [503, 503, 503]);
  });

  it('asks a WebSocket upgrade for credentials the same way', async () => {
    const answer = await rawRequest(proxy.http, `GET / HTTP/1.1\r\nHost: file.example\r\n${WEBSOCKET_UPGRADE}\r\n`);
    assert.equal(statusOf(answer), 401);
  });
});
