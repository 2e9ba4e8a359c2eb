/**
 * A TCP proxy on loopback in front of a real service that can be made to hang: while hung it
 * accepts connections but moves no byte in either direction (a stuck Elasticsearch, not a
 * refused connection); on resume everything held flows on.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface HangProxy {
  url: string;
  hang(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startHangProxy(target: URL): Promise<HangProxy> {
  const sockets = new Set<Socket>();
  let hung = false;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.pipe(upstream);
    upstream.pipe(client);
    // After pipe(), which resumes its source.
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      if (hung) s.pause();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${target.protocol}//127.0.0.1:${port}`,
    hang() {
      hung = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      hung = false;
      for (const s of sockets) s.resume();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
