import { Type } from 'typebox'

export const ReplayUrlBody = Type.Object({
  url: Type.String({ description: 'A presigned GET URL of the replay object' }),
  method: Type.Literal('GET'),
  expiresAt: Type.String({ format: 'date-time', description: 'When the URL stops working (UTC)' }),
  streamUrl: Type.String({ description: 'The fallback route that streams the replay through this service (a relative path)' }),
  encoding: Type.Union([Type.Literal('identity'), Type.Literal('gzip'), Type.Literal('br'), Type.Literal('zstd')], {
    description: 'The Content-Encoding the URL answers with: a compressed variant the request\'s Accept-Encoding accepts, or identity'
  })
}, { description: 'The presigned URL, when it stops working, and the streaming fallback' })
