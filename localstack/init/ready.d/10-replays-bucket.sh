#!/usr/bin/env bash
# LocalStack runs this once S3 is up: the replays bucket, with the same CORS
# rules (localstack/bucket-cors.json) that `npm run bucket:setup` applies.
set -euo pipefail
bucket=${REPLAY_BUCKET:-replays}
awslocal s3api head-bucket --bucket "$bucket" 2>/dev/null || awslocal s3api create-bucket --bucket "$bucket"
awslocal s3api put-bucket-cors --bucket "$bucket" --cors-configuration file:///etc/localstack/bucket-cors.json
awslocal s3api get-bucket-cors --bucket "$bucket" >/dev/null
echo "replays bucket ready: $bucket, CORS rules from bucket-cors.json"
