// The shapes an operator uses to speak to a line (the general line's PATCH /admin/v1/queue and a sale's
// PATCH /admin/v1/sales/{id}), written once for both.
import { Type } from 'typebox';

/** The longest message an operator may show a line's fans. */
export const MAX_MESSAGE_LENGTH = 280;

/** In a change: a new message, or null / "" to clear it. */
export const OperatorMessage = Type.Union([Type.String({ maxLength: MAX_MESSAGE_LENGTH }), Type.Null()], {
  description: `shown to every fan of the line (GET /api/v1/queue/tokens/me and its stream) within 2 s; up to ${MAX_MESSAGE_LENGTH} characters, trimmed; null or "" clears it`,
});

/** In an operator's view of a line: the message its fans see, or null. */
export const LineMessage = Type.Union([Type.String(), Type.Null()], { description: "the operator's message shown to the line's fans; null for none" });
