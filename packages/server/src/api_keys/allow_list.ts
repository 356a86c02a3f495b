/**
 * IP allow-lists of API keys (AK-02): CIDRs checked strictly when a key is created, and caller addresses
 * matched with `node:net`'s `BlockList`.
 *
 * - IPv4 and IPv6, each caller matched only against the CIDRs of its own family (one `BlockList` per
 *   family: a single list would match IPv4 callers against IPv6 ranges through `::ffff:0:0/96`, so
 *   `::/0` would admit every IPv4 caller).
 * - An IPv4-mapped IPv6 caller (`::ffff:10.0.0.1`, as a dual-stack socket reports an IPv4 peer, or any
 *   other spelling of it such as `::ffff:a00:1`) is the IPv4 address it carries.
 * - Zone ids (`fe80::1%eth0`) name an interface of the machine that wrote them, not an address: they
 *   are rejected in a CIDR and a caller address carrying one matches nothing.
 * - A CIDR with host bits set (`10.0.0.1/24`) is rejected rather than silently widened or narrowed: the
 *   operator must say which network they mean. A bare address means that one address (/32 or /128).
 * - IPv4-mapped IPv6 CIDRs (inside `::ffff:0:0/96`, in any spelling) are rejected: write them as IPv4.
 *   One stored before this rule is read as the IPv4 range it names.
 */
import { BlockList, isIP } from 'node:net';

export class CidrError extends Error {
  override name = 'CidrError';
}

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** The upper 96 bits of every IPv4-mapped IPv6 address (`::ffff:0:0/96`). */
const MAPPED_PREFIX = 0xffffn;

/** The IPv4 address an IPv6 address carries if it is IPv4-mapped, in dotted form; else null. */
function mappedIpv4(value: bigint): string | null {
  if (value >> 32n !== MAPPED_PREFIX) return null;
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** The address a caller is, for matching: mapped IPv4 unwrapped; null if it is not a plain IP address. */
export function normaliseAddress(ip: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  if (ip.includes('%') || ip.length > 64) return null;
  const mapped = MAPPED_V4.exec(ip);
  const address = mapped?.[1] ?? ip;
  const version = isIP(address);
  if (version === 4) return { address, family: 'ipv4' };
  if (version !== 6) return null;
  // Every other spelling of a mapped address (`::ffff:a00:1`, `0:0:0:0:0:ffff:…`) names `ffff`.
  const carried = /ffff/i.test(address) ? mappedIpv4(ipv6ToBigInt(address)) : null;
  return carried === null ? { address, family: 'ipv6' } : { address: carried, family: 'ipv4' };
}

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigInt(address: string): bigint {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (`::1.2.3.4`) becomes two hextets.
  const tail = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text);
  if (tail?.[1]) {
    const v4 = ipv4ToBigInt(tail[1]);
    text = `${text.slice(0, -tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const groups =
    rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

interface Cidr {
  network: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses one CIDR (or bare address) strictly; throws `CidrError` saying what is wrong. */
export function parseCidr(text: string): Cidr {
  return readCidr(text, 'refuse');
}

/**
 * `parseCidr`, with IPv4-mapped ranges refused, or (`unwrap`, for lists stored before they were
 * refused) read as the IPv4 range they name.
 */
function readCidr(text: string, mappedRanges: 'refuse' | 'unwrap'): Cidr {
  const shown = JSON.stringify(text.slice(0, 64));
  if (text.includes('%')) throw new CidrError(`CIDR ${shown}: zone ids are not allowed`);
  const [network = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) throw new CidrError(`CIDR ${shown} is malformed`);
  const version = isIP(network);
  if (version === 0) throw new CidrError(`CIDR ${shown}: not an IPv4 or IPv6 address`);
  const refuseMapped = () => new CidrError(`CIDR ${shown}: write IPv4-mapped ranges as IPv4`);
  if (version === 6 && MAPPED_V4.test(network) && mappedRanges === 'refuse') throw refuseMapped();
  const bits = version === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > bits)
      throw new CidrError(`CIDR ${shown}: the prefix length must be 0 to ${bits}`);
    prefix = Number(prefixText);
  }
  const value = version === 4 ? ipv4ToBigInt(network) : ipv6ToBigInt(network);
  const hostBits = BigInt(bits - prefix);
  if (hostBits > 0n && (value & ((1n << hostBits) - 1n)) !== 0n)
    throw new CidrError(`CIDR ${shown} has host bits set: give the network address`);
  if (version === 6 && prefix >= 96) {
    const carried = mappedIpv4(value);
    if (carried !== null) {
      if (mappedRanges === 'refuse') throw refuseMapped();
      return { network: carried, prefix: prefix - 96, family: 'ipv4' };
    }
  }
  return { network, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** `network/prefix`, the form stored. */
function formatCidr(cidr: Cidr): string {
  return `${cidr.network}/${cidr.prefix}`;
}

/** Checked and normalised CIDRs, duplicates removed; throws `CidrError` for the first bad one. */
export function normaliseCidrs(texts: readonly string[]): string[] {
  if (texts.length > 100) throw new CidrError('at most 100 CIDRs per key');
  return [...new Set(texts.map((t) => formatCidr(parseCidr(t.trim()))))];
}

/** Matches addresses against a stored allow-list, each family against its own CIDRs only. */
export class AllowList {
  readonly #lists = { ipv4: new BlockList(), ipv6: new BlockList() };

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const cidr = readCidr(text, 'unwrap');
      this.#lists[cidr.family].addSubnet(cidr.network, cidr.prefix, cidr.family);
    }
  }

  /** Whether `ip` is inside the list. An address that is not a plain IP (zone id, garbage) never is. */
  allows(ip: string | null | undefined): boolean {
    if (!ip) return false;
    const normal = normaliseAddress(ip);
    return normal !== null && this.#lists[normal.family].check(normal.address, normal.family);
  }
}

const cache = new Map<string, AllowList>();

/** The allow-list for a stored `cidrs` JSON value (parsed once per distinct value). */
export function allowListFor(cidrsJson: string): AllowList {
  let list = cache.get(cidrsJson);
  if (!list) {
    if (cache.size >= 1000) cache.clear();
    list = new AllowList(JSON.parse(cidrsJson) as string[]);
    cache.set(cidrsJson, list);
  }
  return list;
}
