// The bucket's CORS rules live in one file, localstack/bucket-cors.json, in
// the JSON form that S3's PutBucketCors and the AWS CLI take.
import { readFileSync } from 'node:fs'
import { projectFile } from '../project-files.js'

export interface CorsRule {
  ID?: string
  AllowedMethods: string[]
  AllowedOrigins: string[]
  AllowedHeaders?: string[]
  ExposeHeaders?: string[]
  MaxAgeSeconds?: number
}

export interface CorsConfiguration {
  CORSRules: CorsRule[]
}

export const BUCKET_CORS_FILE = projectFile('localstack/bucket-cors.json')

export function readBucketCors (file: URL | string = BUCKET_CORS_FILE): CorsConfiguration {
  return JSON.parse(readFileSync(file, 'utf8')) as CorsConfiguration
}

/** The XML form, for servers configured without the S3 API (the emulator). */
export function corsToXml ({ CORSRules }: CorsConfiguration): string {
  const element = (name: string, value: string | number): string => `<${name}>${escapeXml(String(value))}</${name}>`
  const rules = CORSRules.map((rule) => [
    '<CORSRule>',
    ...(rule.ID !== undefined ? [element('ID', rule.ID)] : []),
    ...rule.AllowedOrigins.map((v) => element('AllowedOrigin', v)),
    ...rule.AllowedMethods.map((v) => element('AllowedMethod', v)),
    ...(rule.AllowedHeaders ?? []).map((v) => element('AllowedHeader', v)),
    ...(rule.ExposeHeaders ?? []).map((v) => element('ExposeHeader', v)),
    ...(rule.MaxAgeSeconds !== undefined ? [element('MaxAgeSeconds', rule.MaxAgeSeconds)] : []),
    '</CORSRule>'
  ].join(''))
  return `<CORSConfiguration>${rules.join('')}</CORSConfiguration>`
}

function escapeXml (text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}
