// A stand-in for a CloudFront distribution in front of the test bucket, enough
// to check the service's CDN URLs end to end: it refuses (403) a URL whose
// canned-policy signature or expiry does not hold, as CloudFront does for a
// behaviour restricted to a trusted key group; otherwise it fetches the object
// from S3 as the distribution's origin would with origin access control (a
// request of its own, SigV4-signed, with the response-* parameters and the
// Range passed on), answers GET and HEAD with S3's status and headers, and
// adds CORS headers as a response-headers policy does. It caches nothing.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { KeyObject } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { readBucketCors } from '../../src/bucket/cors-rules.js'
import type { Tap } from '../helper.js'
import { verifyCannedUrl } from './cloudfront-policy.js'

export interface CdnExchange {
  method: string
  /** The request's path and query, as sent. */
  url: string
  status: number
  /** The Origin the client sent (`null` after a cross-origin redirect), if any. */
  origin: string | undefined
  range: string | undefined
  /** Why the signature check refused it. */
  refused?: string
}

export interface StandInCdn {
  /** What the service's CLOUDFRONT_URL is set to: http://127.0.0.1:PORT and the path prefix. */
  url: string
  exchanges: CdnExchange[]
}

export interface StandInCdnOptions {
  publicKey: KeyObject
  keyPairId: string
  /** The origin: the bucket, reached with this client's credentials. */
  s3: { client: S3Client, bucket: string }
  /** A path before the object's key that the distribution takes off before the request reaches the bucket. */
  pathPrefix?: string
}

/** The response-* parameters the distribution's origin-request policy forwards (and its cache policy keys on). */
const FORWARDED_QUERY = ['response-content-disposition', 'response-content-type', 'response-content-encoding']
/** What a client may send that reaches S3. */
const FORWARDED_HEADERS = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']
/** Not passed back from S3: the connection's own, and S3's CORS answer (the response-headers policy gives its own). */
const DROPPED = /^(connection|keep-alive|transfer-encoding|access-control-.*|vary)$/

/** Starts the stand-in on a port of its own; closed in teardown. */
export async function startStandInCdn (t: Tap, { publicKey, keyPairId, s3, pathPrefix = '' }: StandInCdnOptions): Promise<StandInCdn> {
  const cors = readBucketCors().CORSRules[0]
  const exposed = (cors?.ExposeHeaders ?? []).join(', ')
  const exchanges: CdnExchange[] = []
  let base = ''
  const server = createServer((request, response) => {
    const method = request.method ?? 'GET'
    const url = request.url ?? '/'
    const exchange: CdnExchange = { method, url, status: 0, origin: request.headers.origin, range: request.headers.range }
    exchanges.push(exchange)
    // A response-headers policy's CORS: any origin (a redirected fetch arrives with Origin: null), no credentials.
    const corsHeaders: OutgoingHttpHeaders = request.headers.origin === undefined ? {} : { 'access-control-allow-origin': '*', 'access-control-expose-headers': exposed }
    const answer = (status: number, headers: OutgoingHttpHeaders, body = ''): void => {
      exchange.status = status
      response.writeHead(status, { ...headers, ...corsHeaders, via: '1.1 stand-in-cdn' }).end(body)
    }
    if (method === 'OPTIONS') {
      answer(204, {
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': request.headers['access-control-request-headers'] ?? '',
        'access-control-max-age': String(cors?.MaxAgeSeconds ?? 0)
      })
      return
    }
    if (method !== 'GET' && method !== 'HEAD') {
      answer(405, { allow: 'GET, HEAD, OPTIONS' })
      return
    }
    const verdict = verifyCannedUrl(`${base}${url}`, { publicKey, keyPairId })
    const path = url.slice(0, url.indexOf('?') === -1 ? url.length : url.indexOf('?'))
    if (!verdict.ok || !path.startsWith(`${pathPrefix}/`)) {
      exchange.refused = verdict.ok ? `not under ${pathPrefix}/` : verdict.reason
      answer(403, { 'content-type': 'text/xml' }, '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>')
      return
    }
    fromOrigin(method, path.slice(pathPrefix.length + 1), new URL(url, 'http://cdn').searchParams, request.headers).then(({ status, headers, body }) => {
      exchange.status = status
      const kept: OutgoingHttpHeaders = {}
      for (const [name, value] of Object.entries(headers)) if (!DROPPED.test(name) && value !== undefined) kept[name] = value
      response.writeHead(status, { ...kept, ...corsHeaders, via: '1.1 stand-in-cdn' })
      // A client that goes away ends the origin's request too: nothing is left open on S3.
      response.on('close', () => { body.destroy() })
      body.pipe(response)
    }, (error: Error) => { answer(502, { 'content-type': 'text/plain' }, `origin: ${error.message}`) })
  })

  /** The bucket's answer to a request signed by the distribution itself, as origin access control makes one. */
  async function fromOrigin (method: string, path: string, query: URLSearchParams, headers: IncomingHttpHeaders): Promise<{ status: number, headers: IncomingHttpHeaders, body: IncomingMessage }> {
    const key = path.split('/').map(decodeURIComponent).join('/')
    const overrides = {
      ResponseContentDisposition: query.get(FORWARDED_QUERY[0] as string) ?? undefined,
      ResponseContentType: query.get(FORWARDED_QUERY[1] as string) ?? undefined,
      ResponseContentEncoding: query.get(FORWARDED_QUERY[2] as string) ?? undefined
    }
    const input = { Bucket: s3.bucket, Key: key, ...overrides }
    const signed = new URL(await getSignedUrl(s3.client, method === 'HEAD' ? new HeadObjectCommand(input) : new GetObjectCommand(input), { expiresIn: 60 }))
    const forwarded: OutgoingHttpHeaders = {}
    for (const name of FORWARDED_HEADERS) if (headers[name] !== undefined) forwarded[name] = headers[name]
    return await new Promise((resolve, reject) => {
      const send = signed.protocol === 'https:' ? httpsRequest : httpRequest
      // A connection per request (no keep-alive agent): none outlives the test's S3.
      send(signed, { method, headers: forwarded, agent: false }, (answer) => {
        resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: answer })
      }).on('error', reject).end()
    })
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url: `${base}${pathPrefix}`, exchanges }
}
