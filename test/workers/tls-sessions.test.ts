// TLS session resumption across proxy workers: a WorkerPool run in this process (the test is the
// node:cluster primary) with real worker processes, and real TLS clients. node:cluster gives each
// worker the ticket keys of the first one to listen, but only at listen time; Pier's pool owns the
// keys and rotates them for every worker at once, so a ticket from any worker resumes on any other.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { httpsGetOnNewConnection, type HttpsExchange } from '../helpers/certs.ts';
import type { WorkerPool } from '../../proxy/workers.ts';
import { answeredBySlot, killOneWorker, startPool, untilEveryWorkerAnswers } from './pool-harness.ts';

const WORKERS = 2;
/** Connections opened at once, so that the kernel spreads them over both workers. */
const CONCURRENCY = 6;
/** No Ingress has this host: each request is a 404 from whichever worker took the connection. */
const HOST = 'nobody.example';

/** Connections offering `session`, CONCURRENCY at a time, until every worker has answered one. */
function resumingEverywhere(pool: WorkerPool, port: number, session: Buffer): Promise<HttpsExchange[]> {
  return untilEveryWorkerAnswers(pool, WORKERS, () => Promise.all(Array.from({ length: CONCURRENCY }, () => httpsGetOnNewConnection(port, HOST, session))));
}

async function newSession(port: number): Promise<Buffer> {
  const { session } = await httpsGetOnNewConnection(port, HOST);
  assert.ok(session, 'the server issued a session ticket');
  return session;
}

describe('TLS sessions across proxy workers', { timeout: 60_000 }, () => {
  let pool: WorkerPool;
  let port: number;

  before(async () => {
    const running = await startPool(WORKERS, { virtualHosts: [], defaultBackend: null, upstreams: [] });
    pool = running.pool;
    port = running.ports.https as number;
  });
  after(() => pool?.close(1_000));

  it('resumes on every worker a session that any worker issued', async () => {
    const answers = await resumingEverywhere(pool, port, await newSession(port));
    assert.equal(answers.filter((answer) => !answer.resumed).length, 0, `all ${answers.length} connections resumed`);
  });

  it('after the pool rotates the keys, resumes no older session anywhere, and every new one everywhere', async () => {
    const older = await newSession(port);
    pool.rotateTicketKeys();
    // Each worker handles its IPC messages in order: once it has answered this, it has the new keys.
    await answeredBySlot(pool);
    const withOlder = await resumingEverywhere(pool, port, older);
    assert.equal(withOlder.filter((answer) => answer.resumed).length, 0, `none of ${withOlder.length} connections resumed the older session`);
    const withNewer = await resumingEverywhere(pool, port, await newSession(port));
    assert.equal(withNewer.filter((answer) => !answer.resumed).length, 0, `all ${withNewer.length} connections resumed the newer session`);
  });

  it('gives a worker restarted after a rotation the current keys, not the ones the first worker started with', async () => {
    pool.rotateTicketKeys();
    await answeredBySlot(pool);
    await killOneWorker(pool, WORKERS);
    const answers = await resumingEverywhere(pool, port, await newSession(port));
    assert.equal(answers.filter((answer) => !answer.resumed).length, 0, `all ${answers.length} connections resumed, on the restarted worker too`);
  });
});
