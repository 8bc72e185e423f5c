import { S3Client } from '@aws-sdk/client-s3';

export interface S3Settings {
  region: string;
  /** A local S3 emulator's URL; unset against AWS. */
  endpoint?: string | undefined;
}

/**
 * One S3 client per process. Against the local emulator the credentials are the
 * emulator's fixed pair; against AWS the default provider chain (the ECS task role)
 * supplies them.
 */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    region: settings.region,
    // Presigned PUTs must not carry the SDK's default checksum of an empty body: real S3 rejects it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    // Without timeouts a request to an endpoint that stopped answering waits forever.
    // throwOnRequestTimeout: without it the SDK only logs a warning when the timeout passes.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
    ...(settings.endpoint
      ? { endpoint: settings.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }
      : {}),
  });
}
