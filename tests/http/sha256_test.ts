import { strictEqual as assertEquals } from "node:assert/strict";
import { sha256HexSync } from "../../shared/http/sha256.ts";
import { hashKey } from "../../shared/http/api_keys.ts";

async function webCrypto(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256HexSync: FIPS 180-4 test vectors", () => {
  const enc = new TextEncoder();
  assertEquals(
    sha256HexSync(enc.encode("")),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assertEquals(
    sha256HexSync(enc.encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assertEquals(
    sha256HexSync(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256HexSync: equals Web Crypto at every length across block boundaries", async () => {
  for (let n = 0; n <= 300; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    assertEquals(sha256HexSync(bytes), await webCrypto(bytes), `length ${n}`);
  }
});

Deno.test("hashKey: the SHA-256 of the key's UTF-8, as stored for issued keys", async () => {
  const key = "ef_mfrggzdfmztwq2lknnwg23tpobyxe43uov3ho6dzpi2dinjwg44dsmbr";
  assertEquals(await hashKey(key), await webCrypto(new TextEncoder().encode(key)));
  assertEquals(await hashKey("é ✓"), await webCrypto(new TextEncoder().encode("é ✓")));
});
