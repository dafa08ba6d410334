import { describe, expect, it } from 'vitest';
import { guardedLookup, isBlockedAddress, refusedTarget } from '../../platform/address-policy.ts';

describe('webhook target policy', () => {
  it('blocks loopback, private, CGNAT, link-local, ULA, unspecified, multicast and mapped forms of them', () => {
    for (const ip of [
      '127.0.0.1',
      '127.255.0.9',
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '100.64.0.1',
      '100.127.255.255',
      '169.254.169.254',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'febf::1',
      'fc00::1',
      'fd00:ec2::254',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '::ffff:10.1.2.3',
      '64:ff9b::a9fe:a9fe',
      'not-an-ip',
    ]) {
      expect(isBlockedAddress(ip), ip).toBe(true);
    }
    for (const ip of [
      '93.184.215.14',
      '8.8.8.8',
      '172.32.0.1',
      '100.128.0.1',
      '192.169.0.1',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
    ]) {
      expect(isBlockedAddress(ip), ip).toBe(false);
    }
  });

  it('checks literal hosts as they are and names by every address they resolve to', async () => {
    const resolve = async (host: string) =>
      (
        ({ 'public.example': ['93.184.215.14'], 'mixed.example': ['93.184.215.14', '10.0.0.7'] }) as Record<
          string,
          string[]
        >
      )[host] ?? [];
    const check = (u: string, allowPrivate = false) => refusedTarget(new URL(u), { allowPrivate, resolve });
    expect(await check('http://169.254.169.254/latest')).toMatch(/refused/);
    expect(await check('http://[::1]:8080/')).toMatch(/refused/);
    expect(await check('http://2130706433/')).toMatch(/refused/);
    expect(await check('http://metadata.google.internal/')).toMatch(/refused/);
    expect(await check('https://mixed.example/hook')).toMatch(/refused/);
    expect(await check('https://public.example/hook')).toBeUndefined();
    expect(await check('https://93.184.215.14/hook')).toBeUndefined();
    expect(await check('http://127.0.0.1:9/', true)).toBeUndefined();
    expect(
      await refusedTarget(new URL('http://gone.example/'), {
        allowPrivate: false,
        resolve: async () => {
          throw new Error('ENOTFOUND');
        },
      }),
    ).toBeUndefined();
  });

  it('refuses at connect time when the name resolves to a blocked address, and hands out checked addresses otherwise', async () => {
    const lookup = (allowPrivate: boolean, all: boolean) =>
      new Promise<{ err: Error | null; address: unknown }>((resolve) =>
        guardedLookup({ allowPrivate })('localhost', { all }, (err: Error | null, address: unknown) =>
          resolve({ err, address }),
        ),
      );
    expect((await lookup(false, true)).err?.name).toBe('RefusedTargetError');
    expect((await lookup(false, false)).err?.name).toBe('RefusedTargetError');
    const ok = await lookup(true, true);
    expect(ok.err).toBeNull();
    expect((ok.address as { address: string }[]).every((a) => isBlockedAddress(a.address))).toBe(true);
    expect(typeof (await lookup(true, false)).address).toBe('string');
  });
});
