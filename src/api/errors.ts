/** The one place where errors become HTTP responses: docker's `{"message": "..."}` with the code's status. */
import type http from 'node:http';
import { asBerthError, BerthError } from '../errors.js';

export interface ErrorReply {
  status: number;
  message: string;
  /** Not a BerthError: a bug or an unexpected failure, worth an error log line. */
  unexpected: boolean;
}

export function errorReply(err: unknown): ErrorReply {
  const berth = asBerthError(err);
  return { status: berth.httpStatus, message: berth.message, unexpected: !(err instanceof BerthError) };
}

/** Writes the error if the response has not started; returns false when it is too late for that. */
export function sendErrorReply(res: http.ServerResponse, reply: ErrorReply, head: boolean): boolean {
  if (res.headersSent) return false;
  if (reply.status === 304) {
    // A 304 carries no body by definition.
    res.writeHead(304);
    res.end();
    return true;
  }
  const body = JSON.stringify({ message: reply.message }) + '\n';
  res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
  return true;
}
