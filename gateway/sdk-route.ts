import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { defaultSdkDir, loadSdkAssets, SDK_SCRIPTS, type SdkAsset } from '../common/sdk-assets.js';
import { GatewayError } from './errors.js';

/**
 * Serves the SDK's script-tag builds (sdk/dist) from the gateway, in production too:
 *
 * | route | cache |
 * | --- | --- |
 * | `GET /sdk/<hash>/clickstream.min.js` (and `.full.min.js`) | `public, max-age=31536000, immutable`: the path changes when the bytes do |
 * | `GET /sdk/clickstream.min.js` (and `.full.min.js`) | `public, max-age=300`: the stable alias, picks up a new build within minutes |
 * | `GET /sdk/manifest.json` | `no-cache`: each script's versioned path, SRI hash and sizes |
 *
 * Every answer has a strong ETag (If-None-Match gives 304), `Vary: Accept-Encoding`, brotli or
 * gzip when the client takes them (compressed once, at start), and
 * `Access-Control-Allow-Origin: *` with `Cross-Origin-Resource-Policy: cross-origin`, so a page
 * on another origin can load it with `integrity` and `crossorigin="anonymous"`. The files are
 * read once at start: a new build is served after a restart (the image is rebuilt anyway).
 */

export interface SdkRouteOptions {
  /** Directory holding the built scripts (default: sdk/dist of this installation). */
  dir?: string;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const ALIAS = 'public, max-age=300';

interface Encoded {
  /** Content-Encoding; '' for the bytes as built. */
  encoding: '' | 'gzip' | 'br';
  body: Buffer;
  etag: string;
}

interface Served {
  asset: SdkAsset;
  variants: Encoded[];
}

function encode(asset: SdkAsset): Served {
  const br = brotliCompressSync(asset.body, { params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY } });
  const gz = gzipSync(asset.body, { level: 9 });
  return {
    asset,
    variants: [
      { encoding: 'br', body: br, etag: `"${asset.hash}-br"` },
      { encoding: 'gzip', body: gz, etag: `"${asset.hash}-gz"` },
      { encoding: '', body: asset.body, etag: `"${asset.hash}"` },
    ],
  };
}

/** The codings of an Accept-Encoding header with a non-zero q value ("*" included as such). */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  if (!header) return out;
  for (const part of header.split(',')) {
    const [token, ...params] = part.toLowerCase().split(';').map((p) => p.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (token && (q === undefined || Number(q.slice(2)) > 0)) out.add(token);
  }
  return out;
}

function pick(served: Served, acceptEncoding: string | undefined): Encoded {
  const ok = acceptedEncodings(acceptEncoding);
  const takes = (c: string) => ok.has(c) || ok.has('*');
  return served.variants.find((v) => v.encoding === '' || takes(v.encoding))!;
}

/** If-None-Match names this content (any coding of it, weak or strong): the client's copy is current. */
function notModified(req: FastifyRequest, hash: string): boolean {
  const inm = req.headers['if-none-match'];
  if (typeof inm !== 'string') return false;
  return inm.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag.replace(/-(br|gz)"$/, '"') === `"${hash}"`;
  });
}

function send(req: FastifyRequest, reply: FastifyReply, served: Served, cacheControl: string) {
  const v = pick(served, req.headers['accept-encoding']);
  reply
    .header('cache-control', cacheControl)
    .header('vary', 'Accept-Encoding')
    .header('etag', v.etag)
    .header('access-control-allow-origin', '*')
    .header('cross-origin-resource-policy', 'cross-origin')
    .header('x-content-type-options', 'nosniff');
  if (notModified(req, served.asset.hash)) return reply.status(304).send();
  if (v.encoding) reply.header('content-encoding', v.encoding);
  return reply.type('text/javascript; charset=utf-8').send(v.body);
}

/** Registers the /sdk/ routes. Call it only when GATEWAY_SERVE_SDK is on. */
export async function sdkRoute(app: FastifyInstance, opts: SdkRouteOptions): Promise<void> {
  const dir = opts.dir || defaultSdkDir();
  const { assets, missing } = loadSdkAssets(dir);
  const byName = new Map<string, Served>(assets.map((a) => [a.name, encode(a)]));
  if (missing.length) {
    app.log.warn({ dir, missing }, 'SDK scripts not built: /sdk/ answers 404 for them (run `npm run build:sdk`, set GATEWAY_SDK_DIR, or GATEWAY_SERVE_SDK=false)');
  } else {
    app.log.info({ scripts: assets.map((a) => ({ path: a.versionedPath, integrity: a.integrity })) }, 'serving the SDK');
  }

  const lookup = (name: string): Served => {
    const served = byName.get(name);
    if (served) return served;
    if ((SDK_SCRIPTS as readonly string[]).includes(name)) throw new GatewayError('GW_ERR_SDK_NOT_BUILT', `${name} is not in ${dir}`);
    throw new GatewayError('GW_ERR_NOT_FOUND', `no SDK script ${name.slice(0, 64)}; served: ${SDK_SCRIPTS.join(', ')}`);
  };

  app.get<{ Params: { name: string } }>('/sdk/:name', async (req, reply) => {
    if (req.params.name === 'manifest.json') {
      const scripts = Object.fromEntries(
        [...byName.values()].map(({ asset, variants }) => [
          asset.name,
          {
            path: asset.versionedPath,
            alias: asset.aliasPath,
            integrity: asset.integrity,
            bytes: asset.body.length,
            gzip_bytes: variants.find((v) => v.encoding === 'gzip')!.body.length,
            brotli_bytes: variants.find((v) => v.encoding === 'br')!.body.length,
          },
        ]),
      );
      reply.header('cache-control', 'no-cache').header('access-control-allow-origin', '*');
      return { scripts, missing };
    }
    return send(req, reply, lookup(req.params.name), ALIAS);
  });

  app.get<{ Params: { hash: string; name: string } }>('/sdk/:hash/:name', async (req, reply) => {
    const served = lookup(req.params.name);
    if (req.params.hash !== served.asset.hash) {
      // Never serve other bytes under an immutable path: a browser or CDN would keep them for a year.
      throw new GatewayError('GW_ERR_NOT_FOUND', `this gateway serves ${served.asset.versionedPath} (see /sdk/manifest.json); /sdk/${req.params.hash.slice(0, 64)}/ is another build`);
    }
    return send(req, reply, served, IMMUTABLE);
  });
}
