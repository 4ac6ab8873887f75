// Headers between the Worker and a Repository object, for work the Worker drives in
// steps (large pushes and clones). Clients never see them, and the Worker drops any a
// client sends.

/** Every one of them starts so (lower case, as Headers gives names back). */
export const INTERNAL_HEADER_PREFIX = "x-gitflare-";

/** Worker → object: the answer may be left as a job that the Worker pulls in steps. */
export const STEPS_HEADER = "X-Gitflare-Steps";
/** Object → Worker: the rest of this clone or fetch answer comes from `uploadStep`. */
export const UPLOAD_JOB_HEADER = "X-Gitflare-Upload-Job";
/** Object → Worker: errors in this answer go to side band 3. */
export const SIDEBAND_ERRORS_HEADER = "X-Gitflare-Sideband-Errors";
/** Worker → object: this push body is one segment; more may follow. */
export const SEGMENTED_HEADER = "X-Gitflare-Segmented";
/** Both ways: the push whose pack is arriving in segments. */
export const PUSH_UPLOAD_HEADER = "X-Gitflare-Push-Upload";
/** Object → Worker: the push is indexed in slices by `pushStep`. */
export const PUSH_JOB_HEADER = "X-Gitflare-Push-Job";
/** Object → Worker: relay the slices' progress on side band 2. */
export const PROGRESS_HEADER = "X-Gitflare-Progress";
