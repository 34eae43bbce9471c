// Flags: ingress-nginx's names and defaults, and bad input refused at start.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, parseConfig, parseDurationMs } from '../../operator/config.ts';

describe('parseConfig', () => {
  it('gives ingress-nginx defaults when no flags are set', () => {
    const { flags } = parseConfig(['serve', '--manifests', 'x']);
    assert.equal(flags['http-port'], 80);
    assert.equal(flags['https-port'], 443);
    assert.equal(flags['healthz-port'], 10254);
    assert.equal(flags['default-server-port'], 8181);
    assert.equal(flags['ingress-class'], 'pier');
    assert.equal(flags['controller-class'], 'pier.dev/ingress-controller');
    assert.equal(flags['watch-ingress-without-class'], false);
    assert.equal(flags['annotations-prefix'], 'nginx.ingress.kubernetes.io');
    assert.equal(flags['proxy-connect-timeout'], 5000);
    assert.equal(flags['proxy-read-timeout'], 60_000);
    assert.equal(flags['proxy-send-timeout'], 60_000);
  });

  it('accepts both --flag value and --flag=value', () => {
    const { flags } = parseConfig(['serve', '--manifests=dir', '--http-port', '8080', '--default-backend-service=ns/svc']);
    assert.equal(flags.manifests, 'dir');
    assert.equal(flags['http-port'], 8080);
    assert.deepEqual(flags['default-backend-service'], { namespace: 'ns', name: 'svc' });
  });

  it('takes a boolean flag bare or as =true/=false, as Go flags do', () => {
    assert.equal(parseConfig(['serve', '--manifests=d', '--watch-ingress-without-class']).flags['watch-ingress-without-class'], true);
    assert.equal(parseConfig(['serve', '--manifests=d', '--watch-ingress-without-class=true']).flags['watch-ingress-without-class'], true);
    assert.equal(parseConfig(['serve', '--manifests=d', '--watch-ingress-without-class=false']).flags['watch-ingress-without-class'], false);
  });

  it('reads durations as Go writes them or as plain seconds', () => {
    assert.equal(parseDurationMs('5s'), 5000);
    assert.equal(parseDurationMs('1m30s'), 90_000);
    assert.equal(parseDurationMs('250ms'), 250);
    assert.equal(parseDurationMs('7'), 7000);
    assert.equal(parseDurationMs('5 s'), null);
    assert.equal(parseConfig(['serve', '--manifests=d', '--proxy-read-timeout=2m']).flags['proxy-read-timeout'], 120_000);
  });

  const refused: [string, string[], RegExp][] = [
    ['an unknown flag', ['serve', '--manifests=d', '--no-such-flag'], /Unknown option '--no-such-flag'/],
    ['a port that is not a number', ['serve', '--manifests=d', '--http-port=eighty'], /--http-port/],
    ['a port out of range', ['serve', '--manifests=d', '--http-port=70000'], /--http-port/],
    ['a namespaced name without a slash', ['serve', '--manifests=d', '--default-backend-service=svc'], /--default-backend-service: must be namespace\/name/],
    ['a boolean that is neither true nor false', ['serve', '--manifests=d', '--watch-ingress-without-class=yes'], /--watch-ingress-without-class/],
    ['a bad duration', ['serve', '--manifests=d', '--proxy-connect-timeout=soon'], /--proxy-connect-timeout/],
    ['an unknown command', ['launch'], /unknown command "launch"/],
    ['serve without --manifests', ['serve'], /needs --manifests/],
  ];
  for (const [what, argv, message] of refused) {
    it(`refuses ${what} with a FlagError that names it`, () => {
      assert.throws(() => parseConfig(argv), (error: unknown) => error instanceof FlagError && message.test(error.message));
    });
  }
});
