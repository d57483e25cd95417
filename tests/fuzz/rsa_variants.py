#!/usr/bin/python3
"""rsa_variants.py KEY.pem OUTDIR: from one RSA key made by openssl, writes the forms our key
parser must accept (PKCS#8 and PKCS#1 PEM, primes in either order) and the ones it must refuse
with one line (a flipped modulus bit, a wrong public exponent). Shared by the GCE key tests and
the key fuzzer's seeds, so no private key is ever committed."""
import base64
import os
import sys


def der_read(buf, pos):
    """(tag, body, next position) of the DER element at pos."""
    tag, n = buf[pos], buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return tag, buf[pos:pos + n], pos + n


def der_items(body):
    pos, out = 0, []
    while pos < len(body):
        tag, value, pos = der_read(body, pos)
        out.append((tag, value))
    return out


def der(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def der_int(v):
    return der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def pem(kind, data):
    b64 = base64.b64encode(data).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, "\n".join(lines), kind)


RSA_ALG = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) + der(0x05, b""))


def pkcs1(nums):
    return der(0x30, der_int(0) + b"".join(der_int(v) for v in nums))


def pkcs8(nums):
    return der(0x30, der_int(0) + RSA_ALG + der(0x04, pkcs1(nums)))


def main():
    src, out = sys.argv[1], sys.argv[2]
    text = open(src).read()
    body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    _, seq, _ = der_read(base64.b64decode(body), 0)
    items = der_items(seq)
    if items[1][0] == 0x30:  # PKCS#8: the PKCS#1 key is in the OCTET STRING
        _, seq, _ = der_read(items[2][1], 0)
        items = der_items(seq)
    n, e, d, p, q, dp, dq, qinv = (int.from_bytes(v, "big") for _, v in items[1:9])
    keys = {
        "good-pkcs8": pem("PRIVATE KEY", pkcs8([n, e, d, p, q, dp, dq, qinv])),
        "good-pkcs1": pem("RSA PRIVATE KEY", pkcs1([n, e, d, p, q, dp, dq, qinv])),
        # prime1 < prime2, the order libgcrypt itself wants: still the same key.
        "swapped-primes": pem("PRIVATE KEY", pkcs8([n, e, d, q, p, dq, dp, pow(p, -1, q)])),
        "flipped-modulus": pem("PRIVATE KEY", pkcs8([n ^ (1 << 1000), e, d, p, q, dp, dq, qinv])),
        "wrong-exponent": pem("RSA PRIVATE KEY", pkcs1([n, 3, d, p, q, dp, dq, qinv])),
    }
    os.makedirs(out, exist_ok=True)
    for name, key in keys.items():
        with open(os.path.join(out, name + ".pem"), "w") as f:
            f.write(key)


main()
