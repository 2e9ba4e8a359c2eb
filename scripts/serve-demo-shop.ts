import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Serves the demo shop (sdk/demo) at /demo/ and the built SDK (sdk/dist) at /sdk/ from the
 * gateway, so the shop and its endpoint share an origin, as a first-party set-up would.
 */
export async function serveDemoShop(app: FastifyInstance): Promise<void> {
  const demo = `${root}sdk/demo`;
  const dist = `${root}sdk/dist`;
  if (existsSync(demo)) await app.register(fastifyStatic, { root: demo, prefix: '/demo/' });
  if (existsSync(dist)) await app.register(fastifyStatic, { root: dist, prefix: '/sdk/', decorateReply: false });
  app.get('/', (_req, reply) => reply.redirect('/demo/'));
}
