// The CDN settings: a CloudFront distribution in front of the bucket, whose
// signed URLs the service hands out instead of S3's. The private key is read
// from its file here, once, and kept as a KeyObject: it never reaches a log,
// an error message or anything that prints the settings.
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Reader } from './reader.js'

export interface CdnConfig {
  /** The distribution's base URL (scheme, host, an optional path prefix), without a trailing "/". */
  url: string
  /** The id of the public key in the distribution's trusted key group. */
  keyPairId: string
  privateKey: KeyObject
}

export interface CdnSettings {
  /** Undefined: S3's own signed URLs are handed out. */
  cdn: CdnConfig | undefined
}

const SETTINGS = ['CLOUDFRONT_URL', 'CLOUDFRONT_KEY_PAIR_ID', 'CLOUDFRONT_PRIVATE_KEY_FILE'] as const

export function readCdn (read: Reader): CdnSettings {
  // Each is read whatever the others say, so that every setting is known (and a misspelt one named).
  const url = read.url('CLOUDFRONT_URL', ['https:', 'http:'])
  const keyPairId = read.matching('CLOUDFRONT_KEY_PAIR_ID', /^[A-Za-z0-9]{1,128}$/, 'the id of a public key of the distribution\'s trusted key group, letters and digits (such as K2JCJMDEHXQW5F)')
  const keyFile = read.string('CLOUDFRONT_PRIVATE_KEY_FILE')
  const set = SETTINGS.filter((name) => read.string(name) !== undefined)
  if (set.length === 0) return { cdn: undefined }
  if (set.length < SETTINGS.length) {
    for (const name of SETTINGS.filter((name) => !set.includes(name))) {
      read.problem(name, `${name} is missing: ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set, and signing CloudFront URLs needs CLOUDFRONT_URL, CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY_FILE together (unset them all to hand out S3's own URLs)`)
    }
  }
  const privateKey = keyFile === undefined ? undefined : readPrivateKey(read, keyFile)
  if (url === undefined || keyPairId === undefined || privateKey === undefined) return { cdn: undefined }
  // The object's key is put after the base path; a "/" at its end would double.
  const base = new URL(url)
  return { cdn: { url: `${base.origin}${base.pathname.replace(/\/+$/, '')}`, keyPairId, privateKey } }
}

/** The RSA private key in `file` (PEM); a problem with the setting when it cannot be had. Nothing of the file's content is ever put in a message. */
function readPrivateKey (read: Reader, file: string): KeyObject | undefined {
  const name = 'CLOUDFRONT_PRIVATE_KEY_FILE'
  let pem: Buffer
  try {
    pem = readFileSync(file)
  } catch (error) {
    read.problem(name, `${name} cannot be read: ${JSON.stringify(file)} (${String((error as NodeJS.ErrnoException).code)})`)
    return undefined
  }
  let key: KeyObject
  try {
    key = createPrivateKey({ key: pem, format: 'pem' })
  } catch (error) {
    // Only the error's code: OpenSSL's text may quote what it could not decode.
    read.problem(name, `${name} must be a PEM file of an unencrypted RSA private key (openssl genrsa -out private_key.pem 2048); ${JSON.stringify(file)} is none (${String((error as NodeJS.ErrnoException).code)})`)
    return undefined
  } finally {
    // The KeyObject holds the key from here on; the file's bytes are not left lying in the heap.
    pem.fill(0)
  }
  if (key.asymmetricKeyType !== 'rsa') {
    read.problem(name, `${name} must hold an RSA private key, as CloudFront's trusted keys are; ${JSON.stringify(file)} holds an ${String(key.asymmetricKeyType)} key`)
    return undefined
  }
  return key
}
