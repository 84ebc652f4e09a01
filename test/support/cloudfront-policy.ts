// CloudFront's canned policy, checked the way CloudFront documents it and
// written apart from the service's signer: the URL without its Expires,
// Signature and Key-Pair-Id parameters is the policy's Resource, the policy is
// {"Statement":[{"Resource":…,"Condition":{"DateLessThan":{"AWS:EpochTime":…}}}]}
// without spaces, and Signature is its RSA-SHA1 signature in base64 with
// + = / written as - _ ~. The tests' own keys are made here too.
import { createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Tap } from '../helper.js'

export interface CannedUrl {
  /** The URL as the policy names it. */
  resource: string
  expires: number
  keyPairId: string
}

export type Verdict = ({ ok: true } & CannedUrl) | { ok: false, reason: string }

const SIGNATURE_PARAMS = ['Expires', 'Signature', 'Key-Pair-Id']

/** Whether `url` is a canned-policy URL signed by `publicKey` for `keyPairId` and still valid at `now` (ms). */
export function verifyCannedUrl (url: string, { publicKey, keyPairId, now = Date.now() }: { publicKey: KeyObject, keyPairId: string, now?: number }): Verdict {
  const at = url.indexOf('?')
  if (at === -1) return { ok: false, reason: 'no query: not a signed URL' }
  const params = url.slice(at + 1).split('&')
  const value = (name: string): string | undefined => {
    const found = params.filter((param) => param.startsWith(`${name}=`))
    return found.length === 1 ? (found[0] as string).slice(name.length + 1) : undefined
  }
  const [expiresText, signature, id] = SIGNATURE_PARAMS.map(value)
  if (expiresText === undefined || signature === undefined || id === undefined) return { ok: false, reason: 'Expires, Signature and Key-Pair-Id must each appear once' }
  if (params.some((param) => param.startsWith('Policy='))) return { ok: false, reason: 'a custom policy, not a canned one' }
  if (!/^[0-9]+$/.test(expiresText)) return { ok: false, reason: `Expires is not a number of seconds: ${expiresText}` }
  if (id !== keyPairId) return { ok: false, reason: `signed for key ${id}, not ${keyPairId}` }
  const rest = params.filter((param) => !SIGNATURE_PARAMS.some((name) => param.startsWith(`${name}=`)))
  const resource = `${url.slice(0, at)}${rest.length === 0 ? '' : `?${rest.join('&')}`}`
  const expires = Number(expiresText)
  const policy = `{"Statement":[{"Resource":${JSON.stringify(resource)},"Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`
  const base64 = signature.replaceAll('-', '+').replaceAll('_', '=').replaceAll('~', '/')
  if (!createVerify('RSA-SHA1').update(policy).verify(publicKey, base64, 'base64')) return { ok: false, reason: 'the signature does not match the policy' }
  if (Math.floor(now / 1000) >= expires) return { ok: false, reason: `expired at ${expires}` }
  return { ok: true, resource, expires, keyPairId: id }
}

export interface TestKeyPair {
  publicKey: KeyObject
  privateKey: KeyObject
  /** The private key as PKCS #8 PEM, as an operator's file holds it. */
  pem: string
  /** That PEM in a file of its own (removed in teardown). */
  file: string
}

/** A throwaway RSA key pair, as CloudFront's trusted keys are (2048 bits). */
export async function testKeyPair (t: Tap): Promise<TestKeyPair> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const dir = await mkdtemp(join(tmpdir(), 'replay-gate-cdn-key-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'private_key.pem')
  await writeFile(file, pem, { mode: 0o600 })
  return { publicKey, privateKey, pem, file }
}
