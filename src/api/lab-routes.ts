// REST routes of the consensus lab on a node (api/lab-jobs.ts), for the console's Consensus lab
// page: start a small simulation campaign, then poll its progress and result.
//   POST /v1/lab/simulations          {engine, nodes, faults, seeds, seedStart?, durationMs?, crypto?} → 202 LabJob (409 LAB_BUSY while one runs)
//   GET  /v1/lab/simulations/:jobId   the job: state, seeds done, failing seeds, the campaign summary once done
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Identity } from '../identity/index.ts';
import { LabJobParams, LabSimulationBody, type LabJobT } from '../protocol/schemas.ts';
import { LAB_ROLES, LabError, type LabJobs } from './lab-jobs.ts';
import { ApiError } from './server.ts';

function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success)
    throw new ApiError(
      400,
      'BAD_REQUEST',
      r.error.issues
        .slice(0, 5)
        .map((i) => `${where} ${i.path.join('.') || '(whole)'}: ${i.message}`)
        .join('; '),
    );
  return r.data;
}

function mapError(err: unknown): never {
  if (err instanceof LabError) {
    if (err.code === 'BUSY') throw new ApiError(409, 'LAB_BUSY', err.message);
    if (err.code === 'NOT_FOUND') throw new ApiError(404, 'NOT_FOUND', err.message);
    throw new ApiError(400, 'BAD_REQUEST', err.message);
  }
  throw err;
}

export function registerLabRoutes(app: FastifyInstance, who: (req: FastifyRequest) => Identity, jobs: LabJobs): void {
  const labUser = (req: FastifyRequest): string => {
    const me = who(req);
    // Simulations spend this hospital's CPU: its researchers, admins and supervisors only.
    if (!LAB_ROLES.includes(me.role))
      throw new ApiError(403, 'FORBIDDEN', `the consensus lab is for ${LAB_ROLES.join(', ')}; ${me.org}/${me.id} is a ${me.role}`);
    return `${me.org}/${me.id}`;
  };

  app.post('/v1/lab/simulations', async (req, reply): Promise<LabJobT> => {
    const owner = labUser(req);
    const body = parse(LabSimulationBody, req.body, 'body');
    try {
      const job = jobs.start(body, owner);
      void reply.code(202);
      return job;
    } catch (err) {
      return mapError(err);
    }
  });

  app.get('/v1/lab/simulations/:jobId', async (req): Promise<LabJobT> => {
    const owner = labUser(req);
    const { jobId } = parse(LabJobParams, req.params, 'path');
    try {
      return jobs.get(jobId, owner);
    } catch (err) {
      return mapError(err);
    }
  });
}
