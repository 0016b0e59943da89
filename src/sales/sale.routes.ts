// Sale endpoints: what fans read without a token (the sales, one sale, its draw) and what operators
// create and change behind X-Admin-Key. Joining a sale's line is POST /api/v1/queue/tokens with saleId.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { adminGuard } from '../admin/admin.routes.js';
import { errorResponses, Strict, Uuid } from '../http/schemas.js';
import { AdminSale, Draw, NewSale, Sale, SaleChange } from './sale.schemas.js';
import type { SaleService } from './sale.service.js';

export async function saleRoutes(app: FastifyInstance, { sales, adminKey }: { sales: SaleService; adminKey: string | undefined }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const SaleParams = Strict({ saleId: Uuid });

  api.get(
    '/api/v1/sales',
    {
      schema: {
        tags: ['sales'],
        summary: 'Every sale not closed, soonest opensAt first',
        response: { 200: Type.Object({ sales: Type.Array(Sale) }), ...errorResponses },
      },
    },
    async () => ({ sales: await sales.listSales() }),
  );

  api.get(
    '/api/v1/sales/:saleId',
    { schema: { tags: ['sales'], summary: 'One sale', params: SaleParams, response: { 200: Sale, ...errorResponses } } },
    async (request) => sales.getSale(request.params.saleId),
  );

  api.get(
    '/api/v1/sales/:saleId/draw',
    {
      schema: {
        tags: ['sales'],
        summary: "The sale's draw, once it opened: the seed and the entries, so anyone can recompute the order",
        description:
          "Order: ascending by the hex HMAC-SHA256 keyed with the seed's bytes over each entry id's 36-character text. SHA-256 of the seed's bytes is the commitment published since the sale was created.",
        params: SaleParams,
        response: { 200: Draw, ...errorResponses },
      },
    },
    async (request) => sales.getDraw(request.params.saleId),
  );

  const onRequest = adminGuard(adminKey);
  const security = [{ adminKey: [] }];

  api.post(
    '/admin/v1/sales',
    {
      schema: { tags: ['admin'], summary: 'Put a concert on sale at a set time', security, body: NewSale, response: { 201: AdminSale, ...errorResponses } },
      onRequest,
    },
    async (request, reply) => reply.code(201).send(await sales.createSale(request.body)),
  );

  api.get(
    '/admin/v1/sales',
    {
      schema: {
        tags: ['admin'],
        summary: 'Every sale not closed, with its live numbers',
        security,
        response: { 200: Type.Object({ sales: Type.Array(AdminSale) }), ...errorResponses },
      },
      onRequest,
    },
    async () => ({ sales: await sales.listAdminSales() }),
  );

  api.get(
    '/admin/v1/sales/:saleId',
    {
      schema: { tags: ['admin'], summary: 'One sale with its live numbers', security, params: SaleParams, response: { 200: AdminSale, ...errorResponses } },
      onRequest,
    },
    async (request) => sales.adminSale(request.params.saleId),
  );

  api.patch(
    '/admin/v1/sales/:saleId',
    {
      schema: {
        tags: ['admin'],
        summary: "Change a sale's line or schedule (a time only while it is still ahead)",
        security,
        params: SaleParams,
        body: SaleChange,
        response: { 200: AdminSale, ...errorResponses },
      },
      onRequest,
    },
    async (request) => sales.updateSale(request.params.saleId, request.body),
  );
}
