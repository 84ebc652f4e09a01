import t from 'tap'
import { everyAddressOf, interval } from '../../src/config/address-ranges.js'

/** A 128-bit number as eight groups, a form isIP takes. */
function ipv6 (value: bigint): string {
  return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':')
}

t.test('addresses and ranges as intervals of IPv6\'s space, IPv4 in its mapped block', async (t) => {
  t.same(interval('0.0.0.0/0'), { first: 0xffff_0000_0000n, last: 0xffff_ffff_ffffn })
  t.same(interval('10.1.2.3/8'), { first: 0xffff_0a00_0000n, last: 0xffff_0aff_ffffn }, 'the host bits of a range do not count')
  t.same(interval('10.1.2.3'), interval('::ffff:10.1.2.3'), 'an IPv4 address and its mapped form are one')
  t.same(interval('::ffff:10.1.2.3/104'), interval('::ffff:a01:203/104'))
  t.same(interval('::'), { first: 0n, last: 0n })
  t.same(interval('::1'), { first: 1n, last: 1n })
  t.same(interval('fe80::1%eth0'), interval('fe80::1'), 'a zone is not part of the address')
  t.same(interval('2001:db8::/32'), { first: 0x2001_0db8n << 96n, last: (0x2001_0db8n << 96n) | ((1n << 96n) - 1n) })
  t.same(interval('1:2:3:4:5:6:7:8'), interval('1:2:3:4:5:6:0.7.0.8'))
  t.same(interval('::/0'), { first: 0n, last: (1n << 128n) - 1n })
})

t.test('a list is refused when together it trusts every IPv4 or every IPv6 address, however it is spelt', async (t) => {
  t.same(everyAddressOf(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1']), undefined)
  t.same(everyAddressOf(['0.0.0.0/1']), undefined, 'half of IPv4')
  t.same(everyAddressOf(['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/3', '224.0.0.0/4', '240.0.0.0/5', '248.0.0.0/6', '252.0.0.0/7', '254.0.0.0/8', '255.0.0.0/9', '255.128.0.0/9']), {
    what: 'every IPv4 address',
    entries: ['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/3', '224.0.0.0/4', '240.0.0.0/5', '248.0.0.0/6', '252.0.0.0/7', '254.0.0.0/8', '255.0.0.0/9', '255.128.0.0/9']
  })
  t.same(everyAddressOf(['255.255.255.255', '0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/2']), { what: 'every IPv4 address', entries: ['255.255.255.255', '0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/2'] }, 'overlaps and any order')
  t.same(everyAddressOf(['0.0.0.0/1', '192.0.0.0/2']), undefined, 'a gap (128.0.0.0/2)')
  t.same(everyAddressOf(['::ffff:0:0/96']), { what: 'every IPv4 address', entries: ['::ffff:0:0/96'] })
  t.same(everyAddressOf(['::/80']), { what: 'every IPv4 address', entries: ['::/80'] }, 'a range that holds the mapped block')
  t.same(everyAddressOf(['::/1', '8000::/1']), { what: 'every address', entries: ['::/1', '8000::/1'] })
  t.same(everyAddressOf(['fd00::1', '::/0']), { what: 'every address', entries: ['::/0'] }, 'one that covers it alone is the one named')

  // Every IPv6 address outside ::ffff:0:0/96 (at each of its 96 bits, the prefix that takes the other way), and half of IPv4.
  const mappedTop = 0xffffn
  const around = Array.from({ length: 96 }, (_, i) => {
    const bits = BigInt(i + 1)
    const top = (mappedTop >> (96n - bits)) ^ 1n
    return `${ipv6(top << (128n - bits))}/${bits}`
  })
  t.same(everyAddressOf([...around, '::ffff:0:0/97'])?.what, 'every IPv6 address', 'IPv6 without all of IPv4')
  t.same(everyAddressOf(around.slice(1)), undefined, 'one prefix short')
  t.same(everyAddressOf([...around, '0.0.0.0/0']), { what: 'every address', entries: [...around, '0.0.0.0/0'] })
})
