import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * GATEWAY_DEMO_SHOP: serves the demo shop (sdk/demo) at /demo/ from the gateway, which serves the
 * SDK at /sdk/ itself (sdk-route.ts), so the shop, its script and its endpoint share an origin, as
 * a first-party set-up would. An installation without sdk/demo (the image) serves only the redirect.
 */
export async function serveDemoShop(app: FastifyInstance): Promise<void> {
  const demo = `${root}sdk/demo`;
  if (existsSync(demo)) await app.register(fastifyStatic, { root: demo, prefix: '/demo/' });
  app.get('/', (_req, reply) => reply.redirect('/demo/'));
}
