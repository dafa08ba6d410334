// TLS in front of the Temporal dev server (which speaks only plain gRPC): a throwaway CA, a server
// certificate for a name that is not the relay's address, a client certificate, and a relay that
// terminates TLS, demands that client certificate (mTLS, as a secured cluster does) and passes the
// HTTP/2 bytes on. Certificates come from the `openssl` command, made fresh for each run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

export interface TestPki {
  caFile: string;
  /** The name in the server's certificate (not the address the relay listens on). */
  serverName: string;
  clientCertFile: string;
  clientKeyFile: string;
  serverCert: Buffer;
  serverKey: Buffer;
  ca: Buffer;
}

export function makeTestPki(dir: string): TestPki {
  const f = (name: string) => path.join(dir, name);
  // Run in `dir` with relative file names, so each command is one line split at its spaces.
  const openssl = (cmd: string) =>
    execFileSync('openssl', cmd.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const newKey = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
  openssl(
    `req -x509 ${newKey} -keyout ca.key -out ca.pem -days 2 -subj /CN=vigil-test-ca ` +
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign',
  );
  const leaf = (name: string, cn: string, ext: string) => {
    fs.writeFileSync(
      f(`${name}.ext`),
      `${ext}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`,
    );
    openssl(`req ${newKey} -keyout ${name}.key -out ${name}.csr -subj /CN=${cn}`);
    openssl(
      `x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${name}.pem -days 2 -extfile ${name}.ext`,
    );
  };
  const serverName = 'temporal.vigil.test';
  leaf('server', serverName, `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth`);
  leaf('client', 'vigil-worker', 'extendedKeyUsage=clientAuth');
  return {
    caFile: f('ca.pem'),
    serverName,
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
    serverCert: fs.readFileSync(f('server.pem')),
    serverKey: fs.readFileSync(f('server.key')),
    ca: fs.readFileSync(f('ca.pem')),
  };
}

export interface TlsRelay {
  /** 127.0.0.1:port: the certificate does not name it, so clients need TEMPORAL_TLS_SERVER_NAME. */
  address: string;
  /** Common names of the client certificates of the connections it let through. */
  clients: string[];
  close(): Promise<void>;
}

export async function startTlsRelay(target: string, pki: TestPki): Promise<TlsRelay> {
  const i = target.lastIndexOf(':');
  const [host, port] = [target.slice(0, i), Number(target.slice(i + 1))];
  const clients: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      cert: pki.serverCert,
      key: pki.serverKey,
      ca: pki.ca,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (inbound) => {
      clients.push(String(inbound.getPeerCertificate().subject?.CN));
      const outbound = net.connect(port, host);
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      inbound.pipe(outbound).pipe(inbound);
    },
  );
  // Refused handshakes (the tests make some on purpose) are not errors of the relay.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    clients,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
