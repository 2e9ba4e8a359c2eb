import net from 'node:net';

/**
 * The relay: how the acceptor (acceptor.ts) passes a new connection to a gateway process whose
 * hand-over channel is busy, instead of keeping it waiting for that channel and shedding it.
 *
 * Why: Node passes one socket at a time over a process's IPC channel, the next only after the
 * receiving process's next loop turn (handover-pipe.ts). When a client opens many connections at
 * once (a proxy or load generator whose answers slowed for a moment opens more), the channel
 * delivered one every 1.5-7 ms at half load, and every connection beyond what it could deliver in
 * 20 ms was answered 503 with no process overloaded (up to 262 in 10 s at 3,000 requests/s,
 * bench/README.md). Over a Unix socket of its own the process accepts every waiting connection in
 * one turn, so the acceptor connects to it and copies the bytes both ways. The process answers
 * that connection's request with `connection: close` (app.ts, `isRelayed`): the client's next
 * request comes on a new connection, handed over once the channel has caught up, so the copying
 * (and the extra hop, ~1 ms of p50 when relayed connections were kept, bench/README.md) lasts one
 * request.
 *
 * The process learns the client's address from one line the acceptor writes first (the preamble);
 * the socket's path is in a directory only this user can enter (workers.ts), so no other user
 * can write a preamble.
 */

/** The preamble's fields: the client's address as the acceptor's socket saw it, and when it accepted or read it (ms, performance.timeOrigin + now). */
export interface RelayedPeer {
  address: string;
  port: number;
  family: string;
  at: number;
}

const RELAYED = Symbol('relayed');

/** Whether a connection came through the relay (its answers then close it: see above). */
export const isRelayed = (socket: net.Socket | null | undefined): boolean => !!socket && (socket as net.Socket & { [RELAYED]?: true })[RELAYED] === true;

/** Longest preamble a process reads; a longer first line is not the acceptor's, and the connection is closed. */
const MAX_PREAMBLE = 200;

/** The first line of a relayed connection. */
export function preamble(p: RelayedPeer): string {
  return `${p.address} ${p.port} ${p.family} ${p.at}\n`;
}

/** The peer of a preamble line (without its newline); null when it is not one. */
export function parsePreamble(line: string): RelayedPeer | null {
  const m = /^([0-9A-Fa-f:.]{2,45}) (\d{1,5}) (IPv4|IPv6) (\d+(?:\.\d+)?)$/.exec(line);
  if (!m || net.isIP(m[1]) === 0) return null;
  return { address: m[1], port: Number(m[2]), family: m[3], at: Number(m[4]) };
}

/**
 * Acceptor side: connects to the process's relay socket at `path` and copies `client`'s bytes to it
 * (after the preamble and `head`, what was already read of the client) and its answers back, until
 * either side closes. Called instead of a hand-over; `onFail` when the process's socket cannot be
 * reached (the client's connection is closed, as when a hand-over fails: the client retries).
 */
export function relayTo(path: string, client: net.Socket, head: Buffer | null, at: number, onFail: (err: Error) => void): void {
  const up = net.connect(path);
  up.setNoDelay(true);
  let failed = false;
  up.on('error', (err) => {
    if (!failed && up.bytesRead === 0) onFail(err);
    failed = true;
    client.destroy();
  });
  client.on('error', () => up.destroy());
  up.write(preamble({ address: client.remoteAddress ?? '', port: client.remotePort ?? 0, family: client.remoteFamily ?? 'IPv4', at }));
  if (head?.length) up.write(head);
  // Both ends close the other (pipe ends the writer once the reader ends: an answer sent with
  // `connection: close` reaches the client before its FIN). A client gone cuts the process's side.
  client.pipe(up);
  up.pipe(client);
  client.on('close', () => up.destroy());
  client.resume();
}

/**
 * Process side: a server on `path` whose connections come from the acceptor's relay. Each first
 * gives its preamble; then `onConnection` gets the socket, answering `remoteAddress` /
 * `remotePort` / `remoteFamily` as the client's (what Fastify's `req.ip` reads), with the bytes
 * that followed the preamble (the client's first request, or part of it).
 */
export function relayListener(path: string, onConnection: (socket: net.Socket, peer: RelayedPeer, rest: Buffer) => void): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const nl = buf.indexOf(10);
      if (nl < 0) {
        if (buf.length > MAX_PREAMBLE) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const peer = nl <= MAX_PREAMBLE ? parsePreamble(buf.subarray(0, nl).toString('latin1')) : null;
      if (!peer) return void socket.destroy();
      Object.defineProperties(socket, {
        remoteAddress: { value: peer.address, configurable: true },
        remotePort: { value: peer.port, configurable: true },
        remoteFamily: { value: peer.family, configurable: true },
        [RELAYED]: { value: true },
      });
      onConnection(socket, peer, buf.subarray(nl + 1));
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
