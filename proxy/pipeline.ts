// The request pipeline: what happens to a request between matching its route and forwarding it.
// Each route's stages are compiled when a table is swapped in (a route with no policy has none),
// and plain HTTP requests and upgrades (WebSocket) run the very same stages, so a guard can't be
// skipped by upgrading. A stage either answers the request itself or lets it go on.
import { STATUS_TEXT } from './errors.ts';
import type { RequestTarget } from './request-target.ts';

/** A request as the stages see it, read once before any of them runs. */
export interface Exchange {
  /** It came in on the HTTPS port. */
  readonly secure: boolean;
  /** Host and path normalized for matching (request-path.ts). */
  readonly host: string;
  readonly path: string;
  /** The request target as the client sent it. */
  readonly requested: RequestTarget;
}

/** A response the proxy gives itself, instead of the backend's: a short text body by default. */
export interface Answer {
  readonly status: number;
  readonly contentType: string;
  /** Flat name/value list, after content-type, content-length and server. */
  readonly headers: readonly string[];
  readonly body: string;
}

/** One behaviour of a route, compiled at swap time: an answer, or null to go on. */
export type RequestStage = (exchange: Exchange) => Answer | null;

export const NO_STAGES: readonly RequestStage[] = [];

/** nginx's short error page: the status and its text. */
export function statusAnswer(status: number, headers: readonly string[] = []): Answer {
  return { status, contentType: 'text/plain; charset=utf-8', headers, body: `${STATUS_TEXT[status] ?? status}\n` };
}

/** The first stage's answer, or null when every stage lets the request through. */
export function runStages(stages: readonly RequestStage[], exchange: Exchange): Answer | null {
  for (let i = 0; i < stages.length; i++) {
    const answer = (stages[i] as RequestStage)(exchange);
    if (answer !== null) return answer;
  }
  return null;
}
