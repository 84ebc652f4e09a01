import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { Tap } from '../helper.js'

/** A server where TCP connects and nothing ever answers: a hung backend. */
export async function silentServer (t: Tap): Promise<{ port: number, open: () => number }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    // Reads (and ignores) the request, so that the peer's hang-up is seen.
    socket.resume()
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, open: () => sockets.size }
}

export async function silentPort (t: Tap): Promise<number> {
  return (await silentServer(t)).port
}

/** A port where nothing listens: connections are refused. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
