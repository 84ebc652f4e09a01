// GetObject for the streaming route, over keep-alive sockets of the
// service's own (TLS ones for an https: endpoint, AWS's own included). The
// request is signed as a presigned GET (the range and the conditions go along
// as plain headers, which S3 does not sign in a presigned request), and S3's
// answer is read with a small HTTP/1.1 reader: the body's chunks are read
// from the socket into buffers of a pool and written to the client's socket
// as they are; a buffer goes back to the pool once the client's socket has
// taken its bytes. Only a 200 or 206 with a Content-Length is read here: any
// other answer (an error, 304, 412, 416, a chunked body) is asked for again
// through the SDK, which reads it the way every other S3 call is read.
//
// Why not Node's HTTP clients: node:http allocates two fresh buffers for
// every chunk (the socket's read, then the parser's copy of the body), undici
// one (the socket's read, then a copy into its parser's memory); at hundreds
// of MiB a second, their memory outside the heap makes V8 collect garbage
// many times a second. Against Ceph RGW on two cores, undici at its lowest
// level (a dispatch handler writing each chunk to the client's socket) used
// 2.0 to 2.5 times this reader's CPU per GiB over http:, and 1.2 to 1.5 times
// over https: (docs/streaming.md), so the service keeps its own.
//
//   buffer-pool.ts      the 64 KiB buffers sockets are read into
//   head-parser.ts      S3's head: a 200 or 206 with one Content-Length
//   connection-pool.ts  the keep-alive sockets and one GET's exchange
//   object-body.ts      the body as a Readable, piped without a copy
export { CHUNK_BYTES, KEPT_BUFFERS, pooledBuffers } from './buffer-pool.js'
export { address, SocketReads, type SocketAnswer, type SocketReadsOptions } from './connection-pool.js'
export { parseHead, type ParsedHead } from './head-parser.js'
export { ObjectBody } from './object-body.js'
