/**
 * The controller responses the web app consumes, validated where they enter
 * the browser with the protocol's schemas (one schema per shape, in
 * protocol/src/rest.ts).
 */
import {
  CandidatesResponse,
  ControlState,
  CreateSessionResponse,
  CreateVmResponse,
  ListVmsResponse,
  SessionDescription,
  ViewerTokenResponse,
} from '@vmlive/protocol';
import type { z } from 'zod';

export const CreateSessionResponseSchema = CreateSessionResponse;
export const AnswerSchema = SessionDescription;
export const CandidatesResponseSchema = CandidatesResponse;
export const ControlStateSchema = ControlState;
export const ListVmsResponseSchema = ListVmsResponse;
export const ViewerTokenResponseSchema = ViewerTokenResponse;
export const CreateVmResponseSchema = CreateVmResponse;

export class InvalidResponseError extends Error {
  override readonly name = 'InvalidResponseError';
}

export function parseResponse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidResponseError(`invalid ${what} from controller: ${result.error.message}`);
  return result.data;
}
