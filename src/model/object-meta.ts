// What S3 said of an object before its body: the storage reads it, the HTTP
// layer turns it into headers. Imports nothing.

export interface Validators {
  etag: string | undefined
  lastModified: Date | undefined
}

export interface ObjectMeta extends Validators {
  contentLength: number | undefined
  contentRange: string | undefined
  contentType: string | undefined
}
