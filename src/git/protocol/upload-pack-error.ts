/** A request the client got wrong: answered with an `ERR` pkt-line. */
export class UploadPackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadPackError";
  }
}
