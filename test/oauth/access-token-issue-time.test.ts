/**
 * The issue time the verifier compares with a client's token cut-off: to the millisecond from
 * the token id when it carries one within the `iat` second, else the start of that second.
 */
import { describe, expect, it } from "vitest";
import { accessTokenIssueTime } from "../../src/oauth/access-token-issuer.js";

describe("accessTokenIssueTime", () => {
  const iat = 1_796_283_664;

  it.each([
    ["an id stamped within its iat second", `q1w2e3r4t5y6u7i8o9p0aZ.${iat * 1000 + 417}`, iat * 1000 + 417],
    ["an id stamped at the first millisecond", `q1w2e3r4t5y6u7i8o9p0aZ.${iat * 1000}`, iat * 1000],
    ["an id without a stamp (minted before ids carried one)", "q1w2e3r4t5y6u7i8o9p0aZ", iat * 1000],
    ["an id stamped in another second", `q1w2e3r4t5y6u7i8o9p0aZ.${(iat + 1) * 1000 + 5}`, iat * 1000],
    ["an id whose stamp is not a number", "q1w2e3r4t5y6u7i8o9p0aZ.later", iat * 1000],
    ["an id whose stamp is fractional", `q1w2e3r4t5y6u7i8o9p0aZ.${iat * 1000}.5`, iat * 1000],
  ])("reads %s", (_, jti, expected) => {
    expect(accessTokenIssueTime({ jti, iat })).toBe(expected);
  });
});
