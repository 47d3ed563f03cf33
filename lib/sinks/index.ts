export * from './sink.js';
export * from './memory-sink.js';
export * from './console-sink.js';
export * from './tablestore-sink.js';
export * from './tablestore-table.js';
