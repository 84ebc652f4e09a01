import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { Tap } from '../helper.js'

/** A port where TCP connects and nothing ever answers: a hung backend. */
export async function silentPort (t: Tap): Promise<number> {
  const sockets: Socket[] = []
  const server = createServer((socket) => { sockets.push(socket) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return (server.address() as AddressInfo).port
}

/** A port where nothing listens: connections are refused. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
