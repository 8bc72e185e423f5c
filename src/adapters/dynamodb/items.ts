/** Items between JavaScript values and DynamoDB's AttributeValues, with one set of options. */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

export type Attributes = Record<string, AttributeValue>;

export function toAttributes(value: Record<string, unknown>): Attributes {
  return marshall(value, { removeUndefinedValues: true });
}

export function fromAttributes(item: Attributes): Record<string, unknown> {
  return unmarshall(item);
}
