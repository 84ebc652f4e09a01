// A front for a server under test: a proxy on a port of its own, over plain
// http or over TLS (a certificate made at test time), that forwards every
// request as it came, Host included (S3 checks its signature against it), and
// notes what each exchange said about content codings. Browsers are pointed at
// fronts under names of their own (svc.test, s3.test) to be told apart from
// loopback, and at TLS fronts for https: origins.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import { isIP, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Tap } from '../helper.js'

export interface Certificate {
  key: Buffer
  cert: Buffer
}

/** A self-signed certificate for the test names, made by openssl (browsers are told to accept it). */
export async function selfSignedCertificate (names: readonly string[]): Promise<Certificate> {
  const dir = await mkdtemp(join(tmpdir(), 'replay-gate-tls-'))
  try {
    const san = ['IP:127.0.0.1', ...names.map((name) => `DNS:${name}`)].join(',')
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=replay-gate test', '-addext', `subjectAltName=${san}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')])
    return { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** One request through a front and its answer, as far as codings go. */
export interface Exchange {
  method: string
  host: string | undefined
  /** Path and query. */
  url: string
  acceptEncoding: string | undefined
  range: string | undefined
  status: number
  contentEncoding: string | undefined
}

export interface Front {
  /** The origin browsers are given: `scheme://name:port`. */
  origin: string
  exchanges: Exchange[]
}

// Said for one connection, not passed on.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'])

function endToEnd (headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)))
}

/**
 * A front on 127.0.0.1 for `target` (an origin), reached as `name`; over TLS
 * when `certificate` is given. Closed in teardown.
 */
export async function startFront (t: Tap, { target, name, certificate }: { target: string, name: string, certificate?: Certificate }): Promise<Front> {
  const upstream = new URL(target)
  const exchanges: Exchange[] = []
  const forward = (request: IncomingMessage, response: ServerResponse): void => {
    const options = {
      host: upstream.hostname,
      port: upstream.port,
      method: request.method,
      path: request.url,
      headers: endToEnd(request.headers),
      // The target's certificate is checked for its own name or address, not for the Host passed on.
      servername: isIP(upstream.hostname) === 0 ? upstream.hostname : ''
    }
    const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest
    const onward = send(options, (answer) => {
      exchanges.push({
        method: request.method ?? '',
        host: request.headers.host,
        url: request.url ?? '',
        acceptEncoding: request.headers['accept-encoding'],
        range: request.headers.range,
        status: answer.statusCode ?? 0,
        contentEncoding: answer.headers['content-encoding']
      })
      response.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers))
      answer.pipe(response)
    })
    onward.on('error', () => { response.destroy() })
    response.on('close', () => { if (!response.writableFinished) onward.destroy() })
    request.pipe(onward)
  }
  const server = certificate === undefined ? createHttpServer(forward) : createHttpsServer({ ...certificate }, forward)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as AddressInfo
  return { origin: `${certificate === undefined ? 'http' : 'https'}://${name}:${port}`, exchanges }
}
