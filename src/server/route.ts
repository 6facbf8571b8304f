/**
 * Registers a route from its contract (`src/api/contract.ts`): the role guard reads the
 * contract's role, and the parameters, query and body are parsed through its schemas before the
 * handler sees them, so a handler only ever gets typed, valid input. A schema's refusal becomes
 * one 400 problem in the app's error handler. Answers are not parsed again on the way out (the
 * contract's response schemas are checked by the routes' tests), so a kept answer costs only its
 * sending.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RouteContract } from "../api/contract.js";

export interface RouteInput<Params, Query, Body> {
  params: Params;
  query: Query;
  body: Body;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** An answer already turned into JSON, once, for a route that sends the same answer again */
export class SerializedAnswer<Response> {
  declare private readonly answer: Response;
  private constructor(readonly json: string) {}

  static of<Response>(answer: Response): SerializedAnswer<Response> {
    return new SerializedAnswer<Response>(JSON.stringify(answer));
  }
}

/**
 * What a handler returns: the answer (sent with the contract's status), as it is or serialized,
 * or the reply itself when the handler sent something else (a stream, a problem).
 */
export type RouteHandler<Params, Query, Body, Response> = (
  input: RouteInput<Params, Query, Body>,
) => Promise<Response | SerializedAnswer<Response> | FastifyReply>;

export function registerRoute<Params, Query, Body, Response>(
  app: FastifyInstance,
  contract: RouteContract<Params, Query, Body, Response>,
  handler: RouteHandler<Params, Query, Body, Response>,
): void {
  app.route({
    method: contract.method,
    url: contract.path,
    config: { role: contract.role, public: contract.public === true },
    handler: async (request, reply) => {
      const input: RouteInput<Params, Query, Body> = {
        params: (contract.params ? contract.params.parse(request.params) : undefined) as Params,
        query: (contract.query ? contract.query.parse(request.query) : undefined) as Query,
        body: (contract.body ? contract.body.parse(request.body ?? undefined) : undefined) as Body,
        request,
        reply,
      };
      const answer = await handler(input);
      if (answer === reply) return reply;
      reply.code(contract.response.status);
      if (answer instanceof SerializedAnswer)
        return reply.type("application/json; charset=utf-8").send(answer.json);
      return answer;
    },
  });
}
