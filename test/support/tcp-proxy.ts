import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { Tap } from '../helper.js'

export interface TcpProxy {
  endpoint: string
  /** Connections open through the proxy right now. */
  open: () => number
  /** `hang`: connections are accepted and never answered; `pass` relays again. Open connections are cut either way. */
  setMode: (mode: 'pass' | 'hang') => void
}

/**
 * A TCP relay in front of a real server, to play a network that fails: with
 * `cutAfterBytes`, each connection is torn down once that many bytes came back.
 */
export async function startTcpProxy (t: Tap, target: string, { cutAfterBytes }: { cutAfterBytes?: number } = {}): Promise<TcpProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let mode: 'pass' | 'hang' = 'pass'
  const server = createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    if (mode === 'hang') {
      client.resume()
      return
    }
    const upstream = connect(Number(port), hostname)
    let returned = 0
    const closeBoth = (): void => { client.destroy(); upstream.destroy() }
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.on('error', closeBoth)
    upstream.on('error', closeBoth)
    client.pipe(upstream)
    if (cutAfterBytes === undefined) {
      upstream.pipe(client)
      return
    }
    upstream.on('data', (chunk: Buffer) => {
      const allowed = Math.max(0, cutAfterBytes - returned)
      returned += chunk.length
      client.write(chunk.subarray(0, allowed))
      if (returned >= cutAfterBytes) closeBoth()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => sockets.size,
    setMode: (next) => {
      mode = next
      for (const socket of sockets) socket.destroy()
    }
  }
}
