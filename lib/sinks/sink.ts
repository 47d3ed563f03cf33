/** The sink contract lives with `commitAfter` in the stream layer (layers import only downwards). */
export type { Sink, WriteContext } from '../stream/sink.js';
