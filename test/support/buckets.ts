// Removing a bucket the tests (or the benchmarks) made, with its objects.
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'

/** Empties and removes a bucket; a bucket that is not there is fine. */
export async function deleteBucket (client: S3Client, bucket: string): Promise<void> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => undefined)
  const objects = (listed?.Contents ?? []).map(({ Key }) => ({ Key }))
  if (objects.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }))
  await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined)
}
