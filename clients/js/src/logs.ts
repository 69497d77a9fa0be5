/** Following a job's logs: a streamed answer (NDJSON or SSE) or polling with `since`. */

import { camelize } from './case.js';
import type { LogEntry } from './types.js';

export function isStream(contentType: string | null): boolean {
  const kind = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return ['application/x-ndjson', 'application/jsonl', 'text/event-stream'].includes(kind);
}

/** One entry from an NDJSON line or an SSE `data:` line; null for anything else. */
export function parseStreamLine(line: string): LogEntry | null {
  let text = line.trim();
  if (text.startsWith('data:')) text = text.slice(5).trim();
  if (!text.startsWith('{')) return null;
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    return 'message' in obj ? camelize<LogEntry>(obj) : null;
  } catch {
    return null;
  }
}

/** Lines of a streamed body, decoded as they arrive (works with browser streams too). */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        yield buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
      }
    }
    buffer += decoder.decode();
    if (buffer) yield buffer;
  } finally {
    reader.releaseLock();
  }
}

/** Remembers what was delivered while polling `?since=`; de-duplicates the boundary. */
export class LogCursor {
  since: string | null = null;
  private seenAtSince = new Set<string>();

  fresh(entries: LogEntry[]): LogEntry[] {
    const out: LogEntry[] = [];
    for (const e of entries) {
      const key = JSON.stringify([e.timestamp, e.level, e.component, e.message]);
      if (e.timestamp === this.since && this.seenAtSince.has(key)) continue;
      if (e.timestamp !== this.since) {
        this.since = e.timestamp;
        this.seenAtSince = new Set();
      }
      this.seenAtSince.add(key);
      out.push(e);
    }
    return out;
  }
}

/** Poll intervals growing by `factor` up to `max`, never past the deadline. */
export class PollSchedule {
  private readonly started = Date.now();
  constructor(
    private interval: number,
    private readonly max: number,
    private readonly timeout: number | null,
    private readonly factor = 1.5,
  ) {}

  remaining(): number | null {
    return this.timeout === null ? null : this.timeout - (Date.now() - this.started);
  }

  expired(): boolean {
    const left = this.remaining();
    return left !== null && left <= 0;
  }

  nextSleep(): number {
    const sleep = this.interval;
    this.interval = Math.min(this.max, this.interval * this.factor);
    const left = this.remaining();
    return left === null ? sleep : Math.max(0, Math.min(sleep, left));
  }
}
