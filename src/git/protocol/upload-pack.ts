// upload-pack: the server side of clone and fetch, in protocol v2 (ls-refs, fetch,
// object-info) and v0/v1 (ref advertisement, multi_ack_detailed negotiation).
// Over HTTP every request is stateless: the client repeats its wants and known-common
// haves in each round, so nothing is kept between requests.
//
// This module is the entry point the Repository imports; each concern has its own file.
export { advertiseRefs, advertiseV2 } from "./advertise";
export { parseFilter } from "./filter";
export { NOT_FROM_R2, type PackFromR2, PackFromR2Marker, STEP_BOUNDARY } from "./pack-stream";
export type { RepoView } from "./repo-view";
export { UploadPackError } from "./upload-pack-error";
export { mayBeFullClone } from "./upload-request";
export { serveV0, v0Sideband } from "./upload-pack-v0";
export { serveV2 } from "./upload-pack-v2";
