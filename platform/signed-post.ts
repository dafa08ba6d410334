// An HMAC-signed JSON POST with a timeout, only ever to a checked address: webhooks
// (workers/lanes/webhook.ts) and the recovery ladder's hooks (activities/fleet.ts) both send these.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, hostOf, isBlockedAddress, RefusedTargetError } from './address-policy.ts';

/** `X-Vigil-Signature`: hex HMAC-SHA256 of `${timestamp}.${body}` with the receiver's secret. */
export function signBody(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Connections go only to checked addresses: a literal address is checked before the request, a
 * name by the agent's `lookup` on every connection (so a name that re-resolves to an internal
 * address — DNS rebinding — is refused too). One keep-alive agent per policy.
 */
const agents = new Map<string, http.Agent>();
function agentFor(protocol: string, allowPrivate: boolean): http.Agent {
  const k = `${protocol}${allowPrivate}`;
  let a = agents.get(k);
  if (!a) {
    const o = { keepAlive: true, lookup: guardedLookup({ allowPrivate }) };
    a = protocol === 'https:' ? new https.Agent(o) : new http.Agent(o);
    agents.set(k, a);
  }
  return a;
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** POSTs `body` signed with `secret`; throws unless the answer is a 2xx (redirects are not followed). */
export async function postSigned(
  target: string,
  secret: string,
  body: string,
  o: { timeoutMs: number; allowPrivate: boolean; headers?: Record<string, string> },
): Promise<void> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const url = new URL(target);
  if (!o.allowPrivate && isIP(hostOf(url)) && isBlockedAddress(hostOf(url))) throw new RefusedTargetError();
  const status = await new Promise<number>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        agent: agentFor(url.protocol, o.allowPrivate),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...o.headers,
          'x-vigil-timestamp': timestamp,
          'x-vigil-signature': signBody(secret, timestamp, body),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    const timer = setTimeout(() => req.destroy(new TimeoutError(`timeout after ${o.timeoutMs} ms`)), o.timeoutMs);
    req.once('close', () => clearTimeout(timer));
    req.once('error', reject);
    req.end(body);
  });
  if (status < 200 || status > 299) throw new Error(`HTTP ${status}`);
}
