// Addresses and CIDR ranges as intervals of numbers, to tell whether a list
// of them leaves any client out. Everything is placed in IPv6's space, IPv4
// as its mapped form (::ffff:a.b.c.d): Fastify's proxy check (proxy-addr)
// matches an IPv4 client against an IPv6 range that way, so ::ffff:0:0/96
// trusts every IPv4 client as surely as 0.0.0.0/0 does.
import { isIP } from 'node:net'

interface Interval { first: bigint, last: bigint }

const MAPPED_IPV4: Interval = { first: 0xffff_0000_0000n, last: 0xffff_ffff_ffffn }
const ALL_IPV6 = (1n << 128n) - 1n

/** An address, or a range `address/bits`, already checked by isIP and its bit count (exported for its unit test). */
export function interval (entry: string): Interval {
  const [address, bits] = entry.split('/') as [string, string | undefined]
  const ipv4 = isIP(address) === 4
  const value = ipv4 ? MAPPED_IPV4.first + ipv4Number(address) : ipv6Number(address)
  const prefix = bits === undefined ? 128 : Number(bits) + (ipv4 ? 96 : 0)
  const hostBits = (1n << BigInt(128 - prefix)) - 1n
  return { first: value & (ALL_IPV6 ^ hostBits), last: value | hostBits }
}

function ipv4Number (address: string): bigint {
  return address.split('.').reduce((number, part) => (number << 8n) + BigInt(part), 0n)
}

function ipv6Number (address: string): bigint {
  // A zone (fe80::1%eth0) does not change the address; a dotted tail is its last 32 bits.
  let text = address.split('%')[0] as string
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1]
  if (dotted !== undefined) {
    const low = ipv4Number(dotted)
    text = `${text.slice(0, -dotted.length)}${(low >> 16n).toString(16)}:${(low & 0xffffn).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const groups = (part: string | undefined): string[] => part === undefined || part === '' ? [] : part.split(':')
  const left = groups(head)
  const right = groups(tail)
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return all.reduce((number, group) => (number << 16n) + BigInt(`0x${group}`), 0n)
}

/** 127.0.0.0/8 and ::1. */
export const LOOPBACK: readonly Interval[] = [interval('127.0.0.0/8'), interval('::1')]

export function contains (outer: Interval, inner: Interval): boolean {
  return outer.first <= inner.first && inner.last <= outer.last
}

/** Whether the intervals together hold every number from target.first to target.last. */
function covers (intervals: Interval[], target: Interval): boolean {
  let next = target.first
  for (const { first, last } of [...intervals].sort((a, b) => (a.first < b.first ? -1 : 1))) {
    if (first > next) break
    if (last >= next) next = last + 1n
    if (next > target.last) return true
  }
  return false
}

/**
 * What the entries (addresses and ranges) trust together when that is every
 * IPv4 address, every IPv6 one (outside the IPv4-mapped block, which is
 * IPv4's), or both; undefined when they leave clients of both out. The
 * entries named are one that covers it alone, else all that take part.
 */
export function everyAddressOf (entries: string[]): { what: string, entries: string[] } | undefined {
  const intervals = entries.map((entry) => ({ entry, ...interval(entry) }))
  const ipv6 = [{ first: 0n, last: MAPPED_IPV4.first - 1n }, { first: MAPPED_IPV4.last + 1n, last: ALL_IPV6 }]
  const targets = [...(covers(intervals, MAPPED_IPV4) ? [MAPPED_IPV4] : []), ...(ipv6.every((part) => covers(intervals, part)) ? ipv6 : [])]
  if (targets.length === 0) return undefined
  const what = targets.length === 3 ? 'every address' : targets.length === 1 ? 'every IPv4 address' : 'every IPv6 address'
  const alone = intervals.find((one) => targets.every((target) => covers([one], target)))
  if (alone !== undefined) return { what, entries: [alone.entry] }
  return { what, entries: intervals.filter(({ first, last }) => targets.some((target) => first <= target.last && last >= target.first)).map(({ entry }) => entry) }
}
