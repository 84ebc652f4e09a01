// What `npm run bucket:setup` checks and changes: make sure the bucket exists, give it the
// CORS rules of localstack/bucket-cors.json, and check that a browser that
// follows the service's redirect (arriving with `Origin: null`) can read a
// replay. The checks look at the rules as S3 stores them and at S3's real
// answers to a preflight and to a signed GET.
import {
  CreateBucketCommand, GetBucketCorsCommand, HeadBucketCommand, PutBucketCorsCommand,
  type BucketLocationConstraint, type S3Client
} from '@aws-sdk/client-s3'
import type { S3Config } from '../config/index.js'
import { attachment } from '../replay/download-name.js'
import type { ReplayStorage } from '../storage/replay-storage.js'
import { s3Status } from '../storage/s3-errors.js'
import type { CorsConfiguration, CorsRule } from './cors-rules.js'

/** Request headers a page may send with a download (byte ranges and revalidation). */
export const NEEDED_REQUEST_HEADERS = ['Range', 'If-None-Match', 'If-Modified-Since'] as const
/** Answer headers a page needs to read: sizes, ranges, validators and the file name. */
export const NEEDED_EXPOSED_HEADERS = ['Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Content-Disposition'] as const
/** A browser that follows a redirect from the service to S3 sends this origin (the Fetch standard). */
const REDIRECTED_ORIGIN = 'null'

export interface Finding {
  check: string
  /** `warn` does not fail the check: the live answers decide. */
  level: 'ok' | 'warn' | 'fail'
  detail: string
  /** Failed because S3's public endpoint did not answer from this machine: nothing is known of the rules. */
  noAnswer?: true
}

export type BucketState = 'existed' | 'created'

/** Where the bucket is, for people: the endpoint the command talks to, and the one browsers use. */
export function describeBucket ({ bucket, region, endpoint, publicEndpoint }: Pick<S3Config, 'bucket' | 'region' | 'endpoint' | 'publicEndpoint'>): string {
  const at = (url: string | undefined): string => url ?? `AWS S3 (${region})`
  return `Bucket ${bucket} at ${at(endpoint)}${publicEndpoint !== endpoint ? `, public endpoint ${at(publicEndpoint)}` : ''}`
}

/** Creates the bucket unless it is there; any other refusal is thrown as is. */
export async function ensureBucket (client: S3Client, bucket: string, region: string): Promise<BucketState> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }))
    return 'existed'
  } catch (error) {
    if (s3Status(error) !== 404) throw error
  }
  await client.send(new CreateBucketCommand({
    Bucket: bucket,
    // us-east-1 takes no constraint; every other region needs its own name here.
    ...(region !== 'us-east-1' && { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } })
  }))
  return 'created'
}

export async function applyBucketCors (client: S3Client, bucket: string, cors: CorsConfiguration): Promise<void> {
  await client.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: cors }))
}

/** The rules S3 holds for the bucket; undefined when it has none. */
export async function readStoredCors (client: S3Client, bucket: string): Promise<CorsRule[] | undefined> {
  try {
    const answer = await client.send(new GetBucketCorsCommand({ Bucket: bucket }))
    return answer.CORSRules as CorsRule[] | undefined
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchCORSConfiguration') return undefined
    throw error
  }
}

/** The rules S3 stores for the bucket, judged; a refusal to show them is only a warning. */
export async function checkStoredCors (client: S3Client, bucket: string): Promise<Finding[]> {
  let rules: CorsRule[] | undefined
  try {
    rules = await readStoredCors(client, bucket)
  } catch (error) {
    const { name } = error as Error
    if (name === 'NoSuchBucket') return [{ check: 'stored rules', level: 'fail', detail: `the bucket ${bucket} does not exist` }]
    return [{ check: 'stored rules', level: 'warn', detail: `could not read them (${name}); the live checks below decide` }]
  }
  return analyzeCorsRules(rules)
}

/** Reads rules the way S3 applies them: the first rule that matches the origin and method wins. */
export function analyzeCorsRules (rules: CorsRule[] | undefined): Finding[] {
  const check = 'stored rules'
  if (rules === undefined || rules.length === 0) {
    return [{ check, level: 'fail', detail: 'the bucket has no CORS rules, so a page cannot read a replay it was redirected to' }]
  }
  const findings: Finding[] = []
  for (const method of ['GET', 'HEAD']) {
    const rule = rules.find((r) => matchesAny(r.AllowedOrigins, REDIRECTED_ORIGIN) && r.AllowedMethods.some((m) => m.toUpperCase() === method))
    if (rule === undefined) {
      findings.push({
        check,
        level: 'fail',
        detail: `no rule allows ${method} from every origin ("*"): a fetch that follows the redirect arrives with Origin: null and is refused`
      })
      continue
    }
    if (method === 'HEAD') continue
    const missingRequest = NEEDED_REQUEST_HEADERS.filter((h) => !matchesAny(rule.AllowedHeaders ?? [], h.toLowerCase()))
    if (missingRequest.length > 0) {
      findings.push({ check, level: 'fail', detail: `AllowedHeaders lacks ${missingRequest.join(', ')}: a page sending them is refused at the preflight` })
    }
    const exposed = new Set((rule.ExposeHeaders ?? []).map((h) => h.toLowerCase()))
    const missingExposed = NEEDED_EXPOSED_HEADERS.filter((h) => !exposed.has(h.toLowerCase()))
    if (missingExposed.length > 0) {
      findings.push({ check, level: 'fail', detail: `ExposeHeaders lacks ${missingExposed.join(', ')}: a page cannot read them` })
    }
  }
  if (findings.length === 0) {
    findings.push({ check, level: 'ok', detail: `${rules.length} rule(s); GET and HEAD allowed from any origin, with ranges, validators and the file name readable` })
  }
  return findings
}

export interface LiveCheckOptions {
  storage: ReplayStorage
  /** The object to ask for; a missing one works too, since S3 adds CORS headers to its 404. */
  key: string
  timeoutMs: number
}

/** What a browser would get from S3 after the redirect: a preflight, then a signed GET, both from Origin: null. */
export async function checkLiveCors ({ storage, key, timeoutMs }: LiveCheckOptions): Promise<Finding[]> {
  const signed = await storage.urls.presign({ key, contentDisposition: attachment('cors-check.bin', 'cors-check.bin'), contentType: undefined })
  const findings: Finding[] = []

  const preflight = await ask('preflight', signed.url, {
    method: 'OPTIONS',
    headers: { Origin: REDIRECTED_ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' }
  }, timeoutMs)
  if ('level' in preflight) {
    findings.push(preflight)
  } else {
    const problems = [
      ...(preflight.ok ? [] : [`status ${preflight.status}`]),
      ...originProblems(preflight.headers),
      ...(listIncludes(preflight.headers.get('access-control-allow-methods'), 'GET', true) ? [] : ['GET not in Access-Control-Allow-Methods']),
      ...(listIncludes(preflight.headers.get('access-control-allow-headers'), 'range', true) ? [] : ['Range not in Access-Control-Allow-Headers'])
    ]
    findings.push(problems.length === 0
      ? { check: 'preflight', level: 'ok', detail: `OPTIONS with Origin: null and a Range header: ${preflight.status}, allowed` }
      : { check: 'preflight', level: 'fail', detail: `OPTIONS with Origin: null and a Range header was refused: ${problems.join('; ')}` })
  }

  const get = await ask('GET', signed.url, { headers: { Origin: REDIRECTED_ORIGIN, Range: 'bytes=0-0' } }, timeoutMs)
  if ('level' in get) {
    findings.push(get)
  } else {
    const exposed = get.headers.get('access-control-expose-headers')
    const problems = [
      ...originProblems(get.headers),
      ...NEEDED_EXPOSED_HEADERS.filter((h) => !listIncludes(exposed, h, false)).map((h) => `${h} not exposed`)
    ]
    const what = `a signed GET of ${key} with Origin: null answered ${get.status}`
    findings.push(problems.length === 0
      ? { check: 'GET', level: 'ok', detail: `${what}, readable by the page` }
      : { check: 'GET', level: 'fail', detail: `${what}: ${problems.join('; ')}` })
  }
  return findings
}

async function ask (check: string, url: string, init: RequestInit, timeoutMs: number): Promise<Response | Finding> {
  try {
    const answer = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
    await answer.body?.cancel()
    return answer
  } catch (error) {
    const { name, message, cause } = error as Error & { cause?: { code?: string } }
    // fetch's own error says only "fetch failed"; the system error's code is in its cause.
    const code = String(cause?.code)
    const why = name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${NO_ANSWER[code] ?? message} (${code})`
    return { check, level: 'fail', noAnswer: true, detail: `S3's public endpoint ${new URL(url).origin} did not answer from this machine: ${why}` }
  }
}

/** What the usual system errors of a connection mean, for people. */
const NO_ANSWER: Record<string, string | undefined> = {
  ECONNREFUSED: 'the connection was refused',
  ENOTFOUND: 'its host name does not resolve',
  EAI_AGAIN: 'its host name could not be resolved now',
  EHOSTUNREACH: 'no route to its host',
  ECONNRESET: 'the connection was reset'
}

function originProblems (headers: Headers): string[] {
  const allowed = headers.get('access-control-allow-origin')
  if (allowed === '*' || allowed === REDIRECTED_ORIGIN) return []
  return [`Access-Control-Allow-Origin is ${allowed ?? 'missing'}`]
}

/** A comma-separated header list holds `name` (or `*`, where the list allows wildcards). */
function listIncludes (list: string | null, name: string, wildcard: boolean): boolean {
  const items = (list ?? '').split(',').map((item) => item.trim().toLowerCase())
  return items.includes(name.toLowerCase()) || (wildcard && items.includes('*'))
}

/** S3's patterns allow one `*` each, matching any run of characters. */
function matchesAny (patterns: string[], value: string): boolean {
  return patterns.some((pattern) => {
    const star = pattern.indexOf('*')
    if (star === -1) return pattern.toLowerCase() === value.toLowerCase()
    const head = pattern.slice(0, star).toLowerCase()
    const tail = pattern.slice(star + 1).toLowerCase()
    const v = value.toLowerCase()
    return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail)
  })
}
