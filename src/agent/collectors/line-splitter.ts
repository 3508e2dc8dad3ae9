/** Longest partial line kept while waiting for its newline; longer input is garbage, not memory growth. */
const MAX_PARTIAL_LINE = 64 * 1024;

/** Splits a byte stream's text into lines across chunk boundaries. */
export interface LineSplitter {
  /** Feeds a chunk; calls `onLine` for every complete line. */
  push(chunk: string): void;
  /** Emits what is left without a trailing newline (at end of stream). */
  flush(): void;
}

/**
 * Creates a line splitter. `onOverflow` is called when a line grows past 64 KiB without a newline
 * (a tool printing binary junk), and that partial line is dropped.
 */
export function createLineSplitter(onLine: (line: string) => void, onOverflow: () => void): LineSplitter {
  let partial = "";
  return {
    push(chunk) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const part of parts) onLine(part.endsWith("\r") ? part.slice(0, -1) : part);
      if (partial.length > MAX_PARTIAL_LINE) {
        partial = "";
        onOverflow();
      }
    },
    flush() {
      if (partial !== "") onLine(partial);
      partial = "";
    },
  };
}
