// A TCP relay in front of the real Temporal frontend that a test can stall (bytes are held, so
// calls hang until their deadline), cut (connections end, new ones are refused) and open again.
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';

export type RelayMode = 'open' | 'stall' | 'cut';

export interface TemporalRelay {
  client: Client;
  set(mode: RelayMode): void;
  close(): Promise<void>;
}

interface Pipe {
  inbound: net.Socket;
  outbound: net.Socket | undefined;
  /** Bytes held while stalled, per direction. */
  held: { up: Buffer[]; down: Buffer[] };
}

export async function temporalRelay(target: string): Promise<TemporalRelay> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let mode: RelayMode = 'open';
  const pipes = new Set<Pipe>();

  const connectOut = (p: Pipe) => {
    const out = net.connect(port, host);
    p.outbound = out;
    out.on('error', () => p.inbound.destroy());
    out.on('close', () => p.inbound.destroy());
    out.on('data', (d) => (mode === 'stall' ? p.held.down.push(d) : p.inbound.write(d)));
    for (const d of p.held.up.splice(0)) out.write(d);
  };
  const server = net.createServer((inbound) => {
    if (mode === 'cut') return void inbound.destroy();
    const p: Pipe = { inbound, outbound: undefined, held: { up: [], down: [] } };
    pipes.add(p);
    inbound.on('error', () => {});
    inbound.on('close', () => {
      pipes.delete(p);
      p.outbound?.destroy();
    });
    inbound.on('data', (d) => (mode === 'stall' || !p.outbound ? p.held.up.push(d) : p.outbound.write(d)));
    if (mode === 'open') connectOut(p);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const connection = await Connection.connect({ address });

  return {
    client: new Client({ connection }),
    set(next) {
      mode = next;
      for (const p of pipes) {
        if (next === 'cut') {
          p.inbound.destroy();
          continue;
        }
        if (next !== 'open') continue;
        if (!p.outbound) connectOut(p);
        for (const d of p.held.up.splice(0)) p.outbound!.write(d);
        for (const d of p.held.down.splice(0)) p.inbound.write(d);
      }
    },
    async close() {
      mode = 'cut';
      for (const p of pipes) p.inbound.destroy();
      await connection.close().catch(() => {});
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
