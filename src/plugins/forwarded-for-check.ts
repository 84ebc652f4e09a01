// TRUST_PROXY is set, but the proxy never sends X-Forwarded-For (HAProxy adds
// it only with `option forwardfor`; its `option forwarded` sends Forwarded,
// which the service does not read): every client then has the proxy's
// address, and all of them share one stream limit. Said once, after a run of
// requests from a trusted address without the header, and never once the
// header has been seen.
import { BlockList, isIPv4 } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { checkOption } from './options.js'

export interface ForwardedForCheckOptions {
  /** TRUST_PROXY: a number of hops (the nearest peer is trusted, whoever it is), or the proxies' addresses and ranges. */
  trustProxy: number | readonly string[]
}

const NAME = 'replay-gate-forwarded-for-check'
/** Enough not to be a few direct requests (an operator's curl on the host); few enough to be said early. */
export const REQUESTS_BEFORE_WARNING = 50

async function forwardedForCheck (fastify: FastifyInstance, { trustProxy }: ForwardedForCheckOptions): Promise<void> {
  checkOption(NAME, 'trustProxy', typeof trustProxy === 'number' || Array.isArray(trustProxy), 'a number of hops or a list of addresses')
  const trusted = typeof trustProxy === 'number' ? () => true : trustedAddresses(trustProxy)
  let without = 0
  let settled = false
  fastify.addHook('onRequest', async function checkForwardedFor (request: FastifyRequest) {
    if (settled) return
    if (request.headers['x-forwarded-for'] !== undefined) {
      settled = true
      return
    }
    const peer = request.socket.remoteAddress
    if (peer === undefined || !trusted(peer) || ++without < REQUESTS_BEFORE_WARNING) return
    settled = true
    const forwarded = request.headers.forwarded !== undefined ? ' (they carry Forwarded, which the service does not read)' : ''
    request.log.warn({ peer, requests: without },
      `TRUST_PROXY is set, but ${without} requests from a trusted proxy came without X-Forwarded-For${forwarded}: every client behind it has the proxy's address and shares one stream limit. Have the proxy send it (HAProxy: option forwardfor; nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for)`)
  })
}

/** Whether an address is one of TRUST_PROXY's addresses or ranges (an IPv4 address may come as ::ffff:a.b.c.d). */
function trustedAddresses (entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList()
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined]
    const family = isIPv4(address) ? 'ipv4' : 'ipv6'
    if (bits === undefined) list.addAddress(address, family)
    else list.addSubnet(address, Number(bits), family)
  }
  return function isTrusted (address) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1]
    if (mapped !== undefined) return list.check(mapped, 'ipv4')
    return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
  }
}

export default fp(forwardedForCheck, { name: NAME, fastify: '5.x' })
