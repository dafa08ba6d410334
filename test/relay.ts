// A TCP relay for fault tests: a process connects through it to Postgres or Temporal; `cut()` ends
// every connection and refuses new ones (the dependency is out of reach), `restore()` listens again
// on the same port, so the client's own reconnects find it back.
import net from 'node:net';

export interface Relay {
  /** host:port to connect to instead of the target. */
  address: string;
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay(target: string): Promise<Relay> {
  const i = target.lastIndexOf(':');
  const [host, targetPort] = [target.slice(0, i), Number(target.slice(i + 1))];
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const listen = async (port: number) => {
    const s = net.createServer((inbound) => {
      const outbound = net.connect(targetPort, host);
      for (const sk of [inbound, outbound]) {
        sockets.add(sk);
        sk.on('error', () => {});
        sk.on('close', () => sockets.delete(sk));
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', resolve));
    server = s;
    return (s.address() as net.AddressInfo).port;
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const sk of sockets) sk.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  const port = await listen(0);
  return {
    address: `127.0.0.1:${port}`,
    port,
    cut,
    restore: async () => {
      if (!server) await listen(port);
    },
    close: cut,
  };
}
