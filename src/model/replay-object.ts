// What the lookup hands to the signer and to the stream: where a game's
// replay is, and what a download of it is called. Shared by several layers,
// so it imports nothing.

export interface ReplayObject {
  key: string
  contentDisposition: string
  /** Undefined when the file name says nothing: the type stored with the object stands. */
  contentType: string | undefined
}
