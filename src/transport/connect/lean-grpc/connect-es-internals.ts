/**
 * Every helper the lean gRPC path borrows from connect-es that connect-es marks `@private
 * Internal code, does not follow semantic versioning`: the protocol pieces (serialization with
 * our size limits, envelopes, compression negotiation, grpc-timeout, the trailer status) that
 * keep its answers identical to connect-es's own. They are named here, and only here, so an
 * upgrade of @connectrpc/connect (pinned to an exact version in package.json) has one list to
 * check, and test/transport/connect/lean-grpc/connect-es-internals.test.ts fails when any of them
 * changes shape. Nothing outside this folder may import connect-es internals (layering test).
 */
export {
  compressedFlag,
  compressionNegotiate,
  createMethodSerializationLookup,
  encodeEnvelope,
  envelopeCompress,
  type Compression,
  type Serialization,
} from "@connectrpc/connect/protocol";
export { contentTypeProto, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
