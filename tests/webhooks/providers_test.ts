/**
 * The providers' own published examples, verified by shared/webhooks/: the
 * signature scheme is right only if these pass byte for byte.
 */
import assert from "node:assert/strict";
import { verifyDelivery } from "../../shared/webhooks/providers.ts";
import { hmacSha256, toHex, utf8 } from "../../shared/webhooks/crypto.ts";

const enc = (s: string) => utf8(s);

Deno.test("GitHub's documented example verifies, and a changed byte does not", async () => {
  // https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
  const secret = "It's a Secret to Everybody";
  const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  assert.equal(`sha256=${toHex(await hmacSha256(enc(secret), enc("Hello, World!")))}`, signature);
  const req = (body: string, sig = signature) => ({
    headers: new Headers({ "x-hub-signature-256": sig }),
    body: enc(body),
    now: Date.now(),
  });
  assert.equal(await verifyDelivery("github", [secret], {}, req("Hello, World!")), null);
  assert.equal(await verifyDelivery("github", ["old", secret], {}, req("Hello, World!")), null);
  assert.equal(
    await verifyDelivery("github", [secret], {}, req("Hello, World?")),
    "invalid_signature",
  );
  assert.equal(
    await verifyDelivery("github", ["wrong"], {}, req("Hello, World!")),
    "invalid_signature",
  );
  assert.equal(
    await verifyDelivery("github", [secret], {}, req("Hello, World!", "sha256=zz")),
    "invalid_signature",
  );
  assert.equal(
    await verifyDelivery("github", [secret], {}, {
      headers: new Headers(),
      body: enc("Hello, World!"),
      now: 0,
    }),
    "missing_signature",
  );
});

Deno.test("the Standard Webhooks specification's test vector verifies within its tolerance", async () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const headers = (signature: string) =>
    new Headers({
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": signature,
    });
  const sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  const body = enc('{"test": 2432232314}');
  const at = 1614265330_000;
  const verify = (h: Headers, b = body, now = at, secrets = [secret]) =>
    verifyDelivery("standard", secrets, {}, { headers: h, body: b, now });
  assert.equal(await verify(headers(sig)), null);
  // A rotation: the header lists one signature per key; any listed v1 may match.
  assert.equal(await verify(headers(`v1,AAAA ${sig}`)), null);
  assert.equal(await verify(headers(sig), body, at + 299_000), null);
  assert.equal(await verify(headers(sig), body, at + 301_000), "stale_timestamp");
  assert.equal(await verify(headers(sig), body, at - 301_000), "stale_timestamp");
  assert.equal(await verify(headers(sig), enc('{"test": 2432232315}')), "invalid_signature");
  assert.equal(await verify(headers(sig.replace("v1,", "v2,"))), "invalid_signature");
  assert.equal(
    await verify(headers(sig), body, at, ["whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA=="]),
    "invalid_signature",
  );
});

Deno.test("Stripe accepts any v1 of the header and refuses a timestamp outside 5 minutes", async () => {
  const secret = "whsec_test_stripe";
  const body = '{"id":"evt_1","type":"invoice.paid"}';
  const t = 1_700_000_000;
  const mac = toHex(await hmacSha256(enc(secret), enc(`${t}.${body}`)));
  const verify = (header: string, now = t * 1000) =>
    verifyDelivery("stripe", [secret], {}, {
      headers: new Headers({ "stripe-signature": header }),
      body: enc(body),
      now,
    });
  assert.equal(await verify(`t=${t},v1=${"0".repeat(64)},v1=${mac},v0=abc`), null);
  assert.equal(await verify(`t=${t},v1=${mac}`, (t + 301) * 1000), "stale_timestamp");
  assert.equal(await verify(`t=${t + 1},v1=${mac}`), "invalid_signature");
  assert.equal(await verify(`v1=${mac}`), "invalid_signature");
});
