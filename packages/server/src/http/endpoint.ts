/**
 * The preamble every form endpoint shares: its parsed form (the app's form parser fills the body; no
 * body is an empty form) and who is calling, for audit records.
 */
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../audit/events.js';
import type { FormParams } from './form_body.js';
import { requestContext } from './request_context.js';

export interface EndpointRequest {
  params: FormParams;
  context: RequestContext;
}

/** The parsed form of a request, empty when it has no body. */
export function formOf(request: FastifyRequest): FormParams {
  return (request.body ?? {}) as FormParams;
}

export function endpointRequest(request: FastifyRequest): EndpointRequest {
  return { params: formOf(request), context: requestContext(request) };
}
