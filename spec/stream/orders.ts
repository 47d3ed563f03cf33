/** OrderSource records as the seed table holds them (no test-runner imports: the crash child uses them too). */
import type { ChangeRecord } from '../../lib/wire/types.js';
import type { Catalog } from '../../lib/stream/catalog.js';

export const orderCatalog: Catalog = {
  columns: { UserId: { type: 'string' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } },
};

export function putOrder(userId: string, orderId: string, price: number, timestamp: number): ChangeRecord {
  return {
    action: 'PUT_ROW',
    primaryKey: [
      { name: 'UserId', value: userId },
      { name: 'OrderId', value: orderId },
    ],
    cells: [
      { op: 'put', name: 'price', value: price },
      { op: 'put', name: 'timestamp', value: BigInt(timestamp) },
    ],
  };
}
