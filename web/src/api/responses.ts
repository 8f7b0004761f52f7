/**
 * Validators for the controller responses the web app consumes. The types
 * come from @vmlive/protocol; these schemas check them where they enter the
 * browser instead of casting (STYLE: validate at the edge).
 */
import type {
  ControlState,
  CreateSessionResponse,
  CreateVmResponse,
  ListVmsResponse,
  SessionDescription,
  StoredCandidate,
  ViewerTokenResponse,
} from '@vmlive/protocol';
import { ControlMode } from '@vmlive/protocol';
import { z } from 'zod';

const IceServer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

export const CreateSessionResponseSchema: z.ZodType<CreateSessionResponse> = z.object({
  sessionId: z.string().min(1),
  iceServers: z.array(IceServer),
  expiresAt: z.number(),
  vmOnline: z.boolean().optional(),
});

export const AnswerSchema: z.ZodType<SessionDescription> = z.object({
  type: z.enum(['offer', 'answer']),
  sdp: z.string().min(1),
});

const StoredCandidateSchema: z.ZodType<StoredCandidate> = z.object({
  candidate: z.string(),
  sdpMLineIndex: z.number().int().min(0),
  sdpMid: z.string().nullable(),
  seq: z.number(),
  timestamp: z.number(),
});

export const CandidatesResponseSchema = z.object({
  candidates: z.array(StoredCandidateSchema),
  cursor: z.number(),
});

export const ControlStateSchema: z.ZodType<ControlState> = z.object({
  mode: ControlMode,
  holder: z.string().nullable(),
  since: z.number(),
});

export const ListVmsResponseSchema: z.ZodType<ListVmsResponse> = z.object({
  vms: z.array(
    z.object({
      vmId: z.string(),
      name: z.string(),
      online: z.boolean(),
      lastSeenAt: z.number().nullable(),
      viewers: z.number(),
      control: ControlStateSchema,
      stats: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});

export const ViewerTokenResponseSchema: z.ZodType<ViewerTokenResponse> = z.object({
  token: z.string().min(1),
  expiresAt: z.number(),
});

export class InvalidResponseError extends Error {
  override readonly name = 'InvalidResponseError';
}

export function parseResponse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidResponseError(`invalid ${what} from controller: ${result.error.message}`);
  return result.data;
}

export const CreateVmResponseSchema: z.ZodType<CreateVmResponse> = z.object({
  vmId: z.string().min(1),
  vmToken: z.string().min(1),
});
