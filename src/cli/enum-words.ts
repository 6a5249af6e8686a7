/**
 * Protobuf enums as the words people type and read: `active`, `ES256`, `retired`. The one
 * place both directions are written down, so help, parsing and output agree.
 */
import { ClientStatus, SigningAlgorithm } from "../gen/tessera/v1/client_pb.js";
import { SigningKeyState } from "../gen/tessera/v1/signing_key_pb.js";
import { oneOf } from "./args.js";

export const ALGORITHM_WORDS: Readonly<Record<SigningAlgorithm, string>> = {
  [SigningAlgorithm.UNSPECIFIED]: "default",
  [SigningAlgorithm.RS256]: "RS256",
  [SigningAlgorithm.PS256]: "PS256",
  [SigningAlgorithm.ES256]: "ES256",
  [SigningAlgorithm.EDDSA]: "EdDSA",
};

export const STATUS_WORDS: Readonly<Record<ClientStatus, string>> = {
  [ClientStatus.UNSPECIFIED]: "unspecified",
  [ClientStatus.ACTIVE]: "active",
  [ClientStatus.INACTIVE]: "inactive",
};

export const KEY_STATE_WORDS: Readonly<Record<SigningKeyState, string>> = {
  [SigningKeyState.UNSPECIFIED]: "unspecified",
  [SigningKeyState.NEXT]: "next",
  [SigningKeyState.ACTIVE]: "active",
  [SigningKeyState.RETIRED]: "retired",
  [SigningKeyState.REVOKED]: "revoked",
};

function fromWord<E extends number>(words: Readonly<Record<E, string>>, raw: string, flag: string, accepted: readonly E[]): E {
  const word = oneOf(raw, flag, accepted.map((value) => words[value]));
  return accepted.find((value) => words[value] === word)!;
}

/** `default` means the server's default algorithm. */
export function algorithmFromWord(raw: string, flag: string): SigningAlgorithm {
  return fromWord(ALGORITHM_WORDS, raw, flag, [
    SigningAlgorithm.RS256,
    SigningAlgorithm.PS256,
    SigningAlgorithm.ES256,
    SigningAlgorithm.EDDSA,
    SigningAlgorithm.UNSPECIFIED,
  ]);
}

export function statusFromWord(raw: string, flag: string): ClientStatus {
  return fromWord(STATUS_WORDS, raw, flag, [ClientStatus.ACTIVE, ClientStatus.INACTIVE]);
}
