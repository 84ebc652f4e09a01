import t from 'tap'
import { corsToXml, readBucketCors } from '../../src/bucket/cors-rules.js'

t.test('the rules file lets any origin GET and HEAD, for the Origin: null of a redirected fetch', async (t) => {
  const { CORSRules } = readBucketCors()
  const rule = CORSRules.find((r) => r.AllowedOrigins.includes('*'))
  t.ok(rule, 'a rule for every origin')
  t.same(rule?.AllowedMethods.sort(), ['GET', 'HEAD'])
  t.ok(['Range', 'If-None-Match', 'If-Modified-Since'].every((h) => rule?.AllowedHeaders?.includes(h)))
  t.ok(['Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Content-Disposition'].every((h) => rule?.ExposeHeaders?.includes(h)))
})

t.test('the XML form, escaped', async (t) => {
  t.equal(corsToXml({ CORSRules: [{ AllowedOrigins: ['https://a.example'], AllowedMethods: ['GET'] }] }),
    '<CORSConfiguration><CORSRule><AllowedOrigin>https://a.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>')
  t.equal(corsToXml({
    CORSRules: [{ ID: 'a<b>&"c\'', AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'], AllowedHeaders: ['Range'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 60 }]
  }), '<CORSConfiguration><CORSRule><ID>a&#60;b&#62;&#38;&#34;c&#39;</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>' +
    '<AllowedMethod>HEAD</AllowedMethod><AllowedHeader>Range</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>')
})
