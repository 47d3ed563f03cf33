/**
 * The emulator's documented defaults, in a module of their own so the CLI can name them without
 * loading the emulator (LMDB) until a command actually starts one.
 */
export interface Credentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /**
   * Temporary (STS) credentials: requests with this key must carry this token in
   * x-ots-ststoken, and are refused (OTSAuthFailed) from `expiration` on.
   */
  readonly securityToken?: string;
  readonly expiration?: Date;
}

/**
 * The documented local key pair. The emulator binds to loopback by default, so a fixed key
 * makes local tools and tests configurable without reading the emulator's output.
 */
export const DEFAULT_CREDENTIALS: Credentials = { accessKeyId: 'otsflow', accessKeySecret: 'otsflow-local-secret' };
export const DEFAULT_INSTANCE_NAME = 'otsflow';
export const DEFAULT_HOST = '127.0.0.1';
