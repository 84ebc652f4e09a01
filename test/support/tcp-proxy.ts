import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { Tap } from '../helper.js'

/**
 * - `pass`: relays, after `delayMs` if set;
 * - `hang`: accepts connections and never answers;
 * - `refuse`: nothing listens on the port (connection refused);
 * - `reset`: accepts, then resets each connection at once.
 */
export type ProxyMode = 'pass' | 'hang' | 'refuse' | 'reset'

export interface TcpProxy {
  endpoint: string
  port: number
  /** Connections open through the proxy right now. */
  open: () => number
  /** Bytes the target sent back, over every connection so far. */
  returned: () => number
  /** Open connections are cut whatever the new mode is. */
  setMode: (mode: ProxyMode) => Promise<void>
  /** Each new connection waits this long before it is relayed. */
  setDelay: (ms: number) => void
  /** Each new connection is torn down once this many bytes came back (undefined: never). */
  setCutAfter: (bytes: number | undefined) => void
  /**
   * Once an answer that matches `pattern` has come back whole (its bytes end
   * the read), its connection is closed; after the `times`th such answer
   * (default 1) the proxy turns to `then`: the next call fails, whatever S3
   * would have said.
   */
  failAfter: (pattern: RegExp, then: ProxyMode, times?: number) => void
}

/** A TCP relay in front of a real server, to play a network that fails. */
export async function startTcpProxy (t: Tap, target: string, { cutAfterBytes }: { cutAfterBytes?: number } = {}): Promise<TcpProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let mode: ProxyMode = 'pass'
  let delayMs = 0
  let cutAfter = cutAfterBytes
  let totalReturned = 0
  let trigger: { pattern: RegExp, then: ProxyMode, times: number } | undefined
  const server = createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    if (mode === 'reset') {
      client.resetAndDestroy()
      return
    }
    if (mode === 'hang') {
      client.resume()
      return
    }
    client.pause()
    const limit = cutAfter
    setTimeout(() => { relay(client, limit) }, delayMs)
  })
  function relay (client: Socket, limit: number | undefined): void {
    if (client.destroyed) return
    const upstream = connect(Number(port), hostname)
    let returned = 0
    const closeBoth = (): void => { client.destroy(); upstream.destroy() }
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    upstream.on('error', closeBoth)
    upstream.on('data', (chunk: Buffer) => { totalReturned += chunk.length })
    client.pipe(upstream)
    client.resume()
    if (trigger !== undefined) {
      const armed = trigger
      upstream.on('data', (chunk: Buffer) => {
        client.write(chunk)
        if (!armed.pattern.test(chunk.toString('latin1'))) return
        if (--armed.times === 0) {
          trigger = undefined
          mode = armed.then
        }
        client.end()
        upstream.destroy()
      })
      return
    }
    if (limit === undefined) {
      upstream.pipe(client)
      return
    }
    upstream.on('data', (chunk: Buffer) => {
      const allowed = Math.max(0, limit - returned)
      returned += chunk.length
      client.write(chunk.subarray(0, allowed))
      if (returned >= limit) closeBoth()
    })
  }
  const listen = async (at: number): Promise<void> => { await new Promise<void>((resolve) => server.listen(at, '127.0.0.1', resolve)) }
  await listen(0)
  const proxyPort = (server.address() as AddressInfo).port
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    // The target's scheme: over TLS, the bytes relayed are the encrypted ones (a certificate for 127.0.0.1 holds for both).
    endpoint: `${new URL(target).protocol}//127.0.0.1:${proxyPort}`,
    port: proxyPort,
    open: () => sockets.size,
    returned: () => totalReturned,
    setMode: async (next) => {
      for (const socket of sockets) socket.destroy()
      if (next === 'refuse' && server.listening) await new Promise((resolve) => server.close(resolve))
      if (next !== 'refuse' && !server.listening) await listen(proxyPort)
      mode = next
    },
    setDelay: (ms) => { delayMs = ms },
    setCutAfter: (bytes) => { cutAfter = bytes },
    failAfter: (pattern, then, times = 1) => { trigger = { pattern, then, times } }
  }
}
