// gRPC's length-prefixed message framing over HTTP/2, shared by the control plane's fast path
// (server side) and the agent's node-stream client. Kept free of Connect: its error type builds a
// WHATWG Headers, which loads Node's internal undici into the agent (see agent/node-stream-client.ts).

/** Each message: 1 flag byte (bit 0: compressed), 4 bytes of big-endian length, the payload. */
export const FRAME_HEADER_BYTES = 5;

/** gRPC status codes this framing reports (the numbering is gRPC's, as Connect's `Code` uses). */
export const GrpcCode = {
  INTERNAL: 13,
  RESOURCE_EXHAUSTED: 8,
} as const;

/** A frame the reader must refuse, with the gRPC status to answer it with. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * Splits whole messages out of a byte stream, calling `onMessage` for each; returns the bytes of a
 * frame not yet complete (to prepend to the next chunk). Throws a FrameError for a frame over
 * `readMaxBytes` (judged from its header alone, before buffering it) or a compressed one (no
 * compression is negotiated on these calls).
 */
export function splitFrames(buf: Buffer, readMaxBytes: number, onMessage: (payload: Buffer) => void): Buffer {
  let at = 0;
  while (buf.length - at >= FRAME_HEADER_BYTES) {
    const flags = buf[at] as number;
    const length = buf.readUInt32BE(at + 1);
    if (flags & 1)
      throw new FrameError("protocol error: a compressed message without grpc-encoding", GrpcCode.INTERNAL);
    if (length > readMaxBytes)
      throw new FrameError(
        `message is larger than the limit of ${readMaxBytes} bytes`,
        GrpcCode.RESOURCE_EXHAUSTED,
      );
    if (buf.length - at < FRAME_HEADER_BYTES + length) break;
    onMessage(buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length));
    at += FRAME_HEADER_BYTES + length;
  }
  return at === 0 ? buf : buf.subarray(at);
}

/** One uncompressed length-prefixed message. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}
