/**
 * Zod schemas for the controller's responses, so clients (the VM agent, scripts,
 * the viewer) validate what enters them instead of casting. They mirror the
 * response interfaces in rest.ts.
 */
import { z } from 'zod';

export const ControlStateSchema = z.object({
  mode: z.enum(['agent', 'user', 'paused']),
  holder: z.string().nullable(),
  since: z.number(),
});

export const SessionDescriptionSchema = z.object({ type: z.enum(['offer', 'answer']), sdp: z.string() });

export const VmSessionsResponseSchema = z.object({
  sessions: z.array(
    z.object({
      sessionId: z.string(),
      offer: z.object({ type: z.literal('offer'), sdp: z.string() }),
      createdAt: z.number(),
    }),
  ),
  control: ControlStateSchema,
  snapshotWanted: z.boolean().optional(),
});

export const CandidatesResponseSchema = z.object({
  candidates: z.array(
    z.object({
      candidate: z.string(),
      sdpMLineIndex: z.number().int(),
      sdpMid: z.string().nullable().optional(),
      seq: z.number().int(),
      timestamp: z.number(),
    }),
  ),
  cursor: z.number().int(),
});

export const CreateSessionResponseSchema = z.object({
  sessionId: z.string(),
  iceServers: z.array(
    z.object({
      urls: z.union([z.string(), z.array(z.string())]),
      username: z.string().optional(),
      credential: z.string().optional(),
    }),
  ),
  expiresAt: z.number(),
  vmOnline: z.boolean().optional(),
});

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});
