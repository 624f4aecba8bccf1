// The body of an upload (a file's bytes, a tar archive) comes as frames: `stdin` frames
// with the bytes, then one `eof` frame. Only a body that reached its eof frame is whole:
// an HTTP/2 stream that is cancelled can still look ended on this side (the end of the
// stream may be sent before the reset), so the end of the stream alone proves nothing, and
// nothing is committed without the eof.
import { FRAME, FRAMES_CONTENT_TYPE, FrameDecoder, type FrameError } from "../../frames.ts";
import { invalid } from "../errors.ts";
import type { SupervisorRequest } from "../http-types.ts";

/** Frames of an upload are at most this large (the client sends 64 KiB). */
const MAX_UPLOAD_FRAME_BYTES = 256 * 1024;

export class IncompleteUploadError extends Error {
  constructor() {
    super("the upload ended before its eof frame (cancelled)");
    this.name = "IncompleteUploadError";
  }
}

export function checkUploadType(request: SupervisorRequest): void {
  if (!(request.headers["content-type"] ?? "").startsWith(FRAMES_CONTENT_TYPE)) throw invalid(`An upload's body must be ${FRAMES_CONTENT_TYPE}.`);
}

/** The uploaded bytes; throws IncompleteUploadError when the body ends without its eof frame. */
export async function* uploadBytes(request: SupervisorRequest): AsyncGenerator<Buffer> {
  const decoder = new FrameDecoder(MAX_UPLOAD_FRAME_BYTES);
  for await (const chunk of request.body) {
    let frames: ReturnType<FrameDecoder["push"]>;
    try {
      frames = decoder.push(chunk as Buffer);
    } catch (error) {
      throw invalid(`The upload's frames are malformed: ${(error as FrameError).message}.`);
    }
    for (const frame of frames) {
      if (frame.type === FRAME.eof) return;
      if (frame.type !== FRAME.stdin) throw invalid(`An upload carries stdin frames and one eof frame, not frame type ${frame.type}.`);
      if (frame.payload.length > 0) yield frame.payload;
    }
  }
  throw new IncompleteUploadError();
}
