// The best Node peer: fastify with @fastify/reply-from (undici underneath) as a reverse proxy.
// Usage: node reply-from.mjs PORT UPSTREAM_URL
import Fastify from 'fastify';
import replyFrom from '@fastify/reply-from';

const [port, upstream] = [Number(process.argv[2]), process.argv[3]];
const app = Fastify({ logger: false });
await app.register(replyFrom, { base: upstream, undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 } });
app.all('/*', (request, reply) => reply.from(request.url));
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write('ready\n');
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
