// A front for a server the benchmarks start: a proxy on a port of its own,
// over plain http or over TLS (a self-signed certificate made by openssl),
// that forwards each request as it came, Host included (S3 checks its
// signature against it), and notes what each exchange said about content
// codings and how many body bytes it passed on. A browser is pointed at
// fronts under names of their own (service.test, s3.test; Chromium's
// --host-resolver-rules maps them to 127.0.0.1): plain http to a name that
// is not loopback, or an https: origin. A front may also serve a blank page
// at `/`, so that a browser's fetches to the server behind it are
// same-origin.
import { Agent, createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Certificate } from '../test/support/http-front.js'
import { onCleanup } from './support.js'

// The certificate is made as the tests make theirs.
export { selfSignedCertificate, type Certificate } from '../test/support/http-front.js'

/** One request through a front and its answer, as far as codings go. */
export interface Exchange {
  method: string
  /** Path and query. */
  url: string
  acceptEncoding: string | undefined
  status: number
  contentEncoding: string | undefined
  /** Body bytes passed on to the client (as sent: compressed when encoded). */
  bytes: number
}

export interface Front {
  /** The origin a browser is given: `scheme://name:port`. */
  origin: string
  /** Every exchange so far, oldest first; the caller may empty it. */
  exchanges: Exchange[]
}

// Said for one connection, not passed on.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'])

function endToEnd (headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)))
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>replays</title><p>replays'

export interface FrontOptions {
  /** The server behind the front: an http: origin. */
  target: string
  /** The name the browser reaches the front by (it must resolve to 127.0.0.1 for the browser). */
  name: string
  /** Over TLS with this certificate; plain http without. */
  certificate?: Certificate
  /** Serves a blank HTML page at `GET /` instead of forwarding it. */
  page?: boolean
}

/** A front on 127.0.0.1 for `target`; closed at the benchmark's cleanup. */
export async function startFront ({ target, name, certificate, page = false }: FrontOptions): Promise<Front> {
  const upstream = new URL(target)
  if (upstream.protocol !== 'http:') throw new Error(`a front forwards to an http: origin, not ${target}`)
  const agent = new Agent({ keepAlive: true })
  const exchanges: Exchange[] = []
  const forward = (request: IncomingMessage, response: ServerResponse): void => {
    if (page && request.method === 'GET' && request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE)
      return
    }
    const onward = httpRequest({
      agent,
      host: upstream.hostname,
      port: upstream.port,
      method: request.method,
      path: request.url,
      headers: endToEnd(request.headers)
    }, (answer) => {
      const exchange: Exchange = {
        method: request.method ?? '',
        url: request.url ?? '',
        acceptEncoding: request.headers['accept-encoding'],
        status: answer.statusCode ?? 0,
        contentEncoding: answer.headers['content-encoding'],
        bytes: 0
      }
      exchanges.push(exchange)
      answer.on('data', (chunk: Buffer) => { exchange.bytes += chunk.length })
      response.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers))
      answer.pipe(response)
    })
    onward.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end(`front: ${error.message}`)
      else response.destroy(error)
    })
    // A client that goes away mid-body: the upstream request goes too.
    response.on('close', () => { if (!response.writableFinished) onward.destroy() })
    request.pipe(onward)
  }
  const server = certificate === undefined ? createHttpServer(forward) : createHttpsServer({ ...certificate }, forward)
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  onCleanup(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    agent.destroy()
  })
  const { port } = server.address() as AddressInfo
  return { origin: `${certificate === undefined ? 'http' : 'https'}://${name}:${port}`, exchanges }
}
