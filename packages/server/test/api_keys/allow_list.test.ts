import { AccessDenied, AddressNotAllowed } from '@clavis/core';
import { describe, expect, it } from 'vitest';
import {
  AllowList,
  CidrError,
  normaliseAddress,
  normaliseCidrs,
  parseCidr,
} from '../../src/api_keys/allow_list.js';
import { ConfigError, resolveConfig } from '../../src/config.js';

describe('API key allow-lists (AK-02)', () => {
  it('IPv4-mapped IPv6 callers are the IPv4 address they carry', () => {
    expect(normaliseAddress('::ffff:10.0.0.1')).toEqual({ address: '10.0.0.1', family: 'ipv4' });
    expect(normaliseAddress('::FFFF:10.0.0.1')).toEqual({ address: '10.0.0.1', family: 'ipv4' });
    expect(normaliseAddress('2001:db8::1')).toEqual({ address: '2001:db8::1', family: 'ipv6' });
    const list = new AllowList(['10.0.0.0/24']);
    expect(list.allows('::ffff:10.0.0.1')).toBe(true);
    expect(list.allows('::ffff:10.0.1.1')).toBe(false);
  });

  it('zone ids are not addresses and match nothing, even ::/0', () => {
    expect(normaliseAddress('fe80::1%eth0')).toBeNull();
    expect(new AllowList(['::/0']).allows('fe80::1%eth0')).toBe(false);
    expect(new AllowList(['::/0']).allows('fe80::1')).toBe(true);
    expect(() => parseCidr('fe80::%eth0/64')).toThrow(CidrError);
    expect(() => parseCidr('fe80::1%1')).toThrow(/zone ids/);
  });

  it('AK-02: each family is matched against its own list: ::/0 admits no IPv4 caller, 0.0.0.0/0 no IPv6 one', () => {
    const v6 = new AllowList(['::/0']);
    for (const ip of [
      '10.0.0.1',
      '8.8.8.8',
      '127.0.0.1',
      '::ffff:10.0.0.1',
      '::ffff:a00:1',
      '0:0:0:0:0:ffff:a00:1',
    ])
      expect(v6.allows(ip), ip).toBe(false);
    expect(v6.allows('2001:db8::1')).toBe(true);
    expect(new AllowList(['::/64']).allows('10.0.0.1')).toBe(false);
    expect(new AllowList(['::fffe:0:0/95']).allows('10.0.0.1')).toBe(false);
    const v4 = new AllowList(['0.0.0.0/0']);
    expect(v4.allows('2001:db8::1')).toBe(false);
    expect(v4.allows('10.0.0.1')).toBe(true);
    const both = new AllowList(['10.0.0.0/8', '2001:db8::/32']);
    expect(both.allows('10.1.2.3')).toBe(true);
    expect(both.allows('2001:db8::5')).toBe(true);
    expect(both.allows('11.0.0.1')).toBe(false);
    expect(both.allows('2001:db9::')).toBe(false);
  });

  it('AK-02: IPv4-mapped callers in any spelling are the IPv4 address they carry', () => {
    for (const ip of ['::ffff:a00:1', '::FFFF:A00:1', '0:0:0:0:0:ffff:a00:1', '0:0:0:0:0:ffff:10.0.0.1']) {
      expect(normaliseAddress(ip), ip).toEqual({ address: '10.0.0.1', family: 'ipv4' });
    }
    expect(normaliseAddress('::fffe:a00:1')).toEqual({ address: '::fffe:a00:1', family: 'ipv6' });
    expect(normaliseAddress('1::ffff:a00:1')).toEqual({ address: '1::ffff:a00:1', family: 'ipv6' });
    const list = new AllowList(['10.0.0.0/8']);
    expect(list.allows('::ffff:a00:1')).toBe(true);
    expect(list.allows('::ffff:b00:1')).toBe(false);
  });

  it('AK-02: IPv4-mapped ranges are refused in every spelling; ranges merely covering them are fine', () => {
    for (const bad of [
      '::ffff:10.0.0.0/104',
      '::ffff:a00:0/104',
      '::FFFF:A00:0/104',
      '0:0:0:0:0:ffff:a00:0/104',
      '::ffff:0:0/96',
      '::ffff:0.0.0.0/96',
      '::ffff:a00:1',
      '::ffff:a00:0/120',
    ]) {
      expect(() => parseCidr(bad), bad).toThrow(/write IPv4-mapped ranges as IPv4/);
    }
    for (const fine of ['::/0', '::/64', '::fffe:0:0/95', '::fffe:0:0/96', '1::ffff:a00:0/104'])
      expect(() => parseCidr(fine), fine).not.toThrow();
  });

  it('a mapped range stored before it was refused still means the IPv4 range it names', () => {
    const list = new AllowList(['::ffff:a00:0/104']);
    expect(list.allows('10.1.2.3')).toBe(true);
    expect(list.allows('::ffff:10.1.2.3')).toBe(true);
    expect(list.allows('11.0.0.1')).toBe(false);
    expect(list.allows('2001:db8::1')).toBe(false);
  });

  it('CIDR edges are exact: /0, /32, /24, /31, /128, /127', () => {
    const cases: Array<[string, string, boolean]> = [
      ['0.0.0.0/0', '0.0.0.0', true],
      ['0.0.0.0/0', '255.255.255.255', true],
      ['192.0.2.0/24', '192.0.2.0', true],
      ['192.0.2.0/24', '192.0.2.255', true],
      ['192.0.2.0/24', '192.0.3.0', false],
      ['192.0.2.0/24', '192.0.1.255', false],
      ['192.0.2.8/31', '192.0.2.9', true],
      ['192.0.2.8/31', '192.0.2.10', false],
      ['192.0.2.7/32', '192.0.2.7', true],
      ['192.0.2.7/32', '192.0.2.6', false],
      ['2001:db8::/128', '2001:db8::', true],
      ['2001:db8::/128', '2001:db8::1', false],
      ['2001:db8::/127', '2001:db8::1', true],
      ['2001:db8::/127', '2001:db8::2', false],
      ['2001:db8:1234::/48', '2001:db8:1234:ffff:ffff:ffff:ffff:ffff', true],
      ['2001:db8:1234::/48', '2001:db8:1235::', false],
    ];
    for (const [cidr, ip, allowed] of cases)
      expect(new AllowList([cidr]).allows(ip), `${cidr} ← ${ip}`).toBe(allowed);
  });

  it('no address, garbage or the other family never matches', () => {
    const list = new AllowList(['10.0.0.0/8']);
    for (const ip of [null, undefined, '', 'localhost', '10.0.0', '10.0.0.1.2', '::a:b:c:d:e:f:1:2:3']) {
      expect(list.allows(ip)).toBe(false);
    }
  });

  it('strict parsing: host bits, prefixes, mapped ranges, embedded IPv4 tails', () => {
    expect(normaliseCidrs(['10.0.0.0/8', '10.0.0.0/8', '2001:DB8::/32', '192.0.2.1'])).toEqual([
      '10.0.0.0/8',
      '2001:DB8::/32',
      '192.0.2.1/32',
    ]);
    expect(parseCidr('::192.0.2.0/120')).toMatchObject({ prefix: 120, family: 'ipv6' });
    expect(() => parseCidr('::192.0.2.1/120')).toThrow(/host bits/);
    for (const bad of [
      '10.0.0.1/8',
      '10.0.0.0/-1',
      '10.0.0.0/',
      '10.0.0.0/1.5',
      '10.0.0.0/001',
      '::/129',
      '::ffff:10.0.0.0/104',
      '',
      ' 10.0.0.0/8',
    ]) {
      expect(() => parseCidr(bad), bad).toThrow(CidrError);
    }
    expect(() => normaliseCidrs(Array.from({ length: 101 }, (_, i) => `10.0.${i}.0/24`))).toThrow(
      /at most 100/,
    );
  });

  it('the 403 for a refused address is access_denied', () => {
    const err = new AddressNotAllowed('x');
    expect(err).toBeInstanceOf(AccessDenied);
    expect(err.status).toBe(403);
    expect(err.toJSON()).toEqual({ error: 'access_denied', error_description: 'x' });
  });

  it('trusted proxies must be IP addresses or CIDRs (AK-01)', () => {
    const base = { issuer: 'https://as.example' };
    expect(
      resolveConfig({ ...base, trustedProxies: ['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8'] })
        .trustedProxies,
    ).toHaveLength(4);
    for (const bad of ['proxy.internal', '10.0.0.0/33', 'fe80::1%eth0', '10.0.0.0/8/1', '']) {
      expect(() => resolveConfig({ ...base, trustedProxies: [bad] }), bad).toThrow(ConfigError);
    }
    expect(() => resolveConfig({ ...base, apiKeyMintMaxTtlSeconds: 100 * 86_400 })).toThrow(ConfigError);
    expect(() => resolveConfig({ ...base, apiKeyMaxTtlSeconds: 0 })).toThrow(ConfigError);
  });
});
