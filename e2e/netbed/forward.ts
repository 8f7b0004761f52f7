/**
 * TCP forwarders from a link's root-side address to services on 127.0.0.1
 * (the controller, the scripts' page server): a viewer in its namespace
 * reaches them there and nowhere else is anything exposed.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface Forwarder {
  /** the URL with its host and port replaced by the forwarder's */
  url: string;
  close(): Promise<void>;
}

/** Forwards `listenHost:<ephemeral>` to the host and port of `target` (an http URL on loopback). */
export async function forwardTcp(listenHost: string, target: string): Promise<Forwarder> {
  const to = new URL(target);
  const port = Number(to.port || 80);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(port, to.hostname);
    for (const s of [client, up]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        up.destroy();
      });
    }
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  const address = server.address();
  const url = new URL(target);
  url.hostname = listenHost;
  url.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: url.href.replace(/\/$/, target.endsWith('/') ? '/' : ''),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
