// The Worker's bindings and variables, as wrangler.jsonc declares them.

export interface Env {
  /**
   * One Durable Object per repository. Typed loosely here, the ground floor, which knows
   * nothing of the class: the access check, the one place that hands out stubs, types them.
   */
  REPO: DurableObjectNamespace;
  /** Accounts, tokens and repository metadata. */
  DB: D1Database;
  /** "closed" stops new sign-ups (the first account can always be made). */
  GITFLARE_SIGNUPS?: string;
  /** Issues and comments one account may create, as "count/seconds" (default 60/600). */
  GITFLARE_CREATE_LIMIT?: string;
  PACKS?: R2Bucket;
  /** Packs at least this many bytes move to R2 (default 64 MiB). */
  GITFLARE_TIER_MIN_BYTES?: string;
  /** Packs at least this many days old move to R2 (default 7). */
  GITFLARE_TIER_AGE_DAYS?: string;
  /** Seconds an object stays unreachable before compaction drops it (default 3600). */
  GITFLARE_PRUNE_GRACE_SECONDS?: string;
  /**
   * The pack that covers the refs is copied to R2 when at least this many bytes, so that
   * Workers send clones from R2 (default 1 MiB; 0: never, every clone is sent by the object).
   */
  GITFLARE_R2_SERVE_MIN_BYTES?: string;
  /** "off": alarms run no maintenance (a benchmark that drives the slices itself). */
  GITFLARE_MAINTENANCE_ALARM?: string;
  /** Pushes with a pack at least this large are indexed in slices (default 32 MiB). */
  GITFLARE_SLICE_MIN_BYTES?: string;
  /** Work per indexing slice: objects, counting 64 KiB of a large one as one more (default 1000). */
  GITFLARE_SLICE_UNITS?: string;
  /** A push body larger than this (or of unknown length) is received in segments of this size, one invocation each (default 64 MiB). */
  GITFLARE_SEGMENT_BYTES?: string;
  /** Bytes of a clone or fetch answer produced per invocation (default 512 KiB). */
  GITFLARE_STEP_BYTES?: string;
  /** Bytes all clone, fetch and push jobs of one repository may hold together (default 24 MiB). */
  GITFLARE_JOBS_BUDGET_BYTES?: string;
  /** How long a job waits for room among them before it is refused as busy (default 120000 ms). */
  GITFLARE_JOBS_WAIT_MS?: string;
  /** Seals webhook secrets (AES-GCM); set it as a secret in production. A fixed development key without it. */
  GITFLARE_HOOK_KEY?: string;
  /** "1" lets webhooks reach 127.0.0.1 and localhost: local development and tests only. */
  GITFLARE_HOOKS_ALLOW_LOOPBACK?: string;
  /** Waits between a webhook's attempts, in ms, comma-separated (default 60000,300000,900000,1800000,3600000). */
  GITFLARE_HOOK_RETRY_MS?: string;
  /** How long one webhook attempt may take, in ms (default 10000). */
  GITFLARE_HOOK_TIMEOUT_MS?: string;
  /** Bytes of Git LFS objects one repository may hold (default 1073741824, 1 GiB). */
  GITFLARE_LFS_QUOTA_BYTES?: string;
  /**
   * R2's S3 API, for presigned LFS transfer URLs (all four, or LFS streams through the
   * Worker): `https://<account>.r2.cloudflarestorage.com`, the PACKS bucket's name, and
   * an R2 API token's key pair (set the secret with `wrangler secret put`).
   */
  GITFLARE_LFS_S3_ENDPOINT?: string;
  GITFLARE_LFS_S3_BUCKET?: string;
  GITFLARE_LFS_S3_ACCESS_KEY_ID?: string;
  GITFLARE_LFS_S3_SECRET_ACCESS_KEY?: string;
}
