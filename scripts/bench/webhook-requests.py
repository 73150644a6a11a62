"""Writes the Lua table of the webhook bench: N distinct track_published webhooks, each with
the token livekit-server would send (HS256 JWT: iss = API key, sha256 = base64(SHA-256(body))),
valid for an hour. Usage: webhook-requests.py KEY SECRET N > requests.lua"""
import base64, hashlib, hmac, json, sys, time

key, secret, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(body):
    now = int(time.time())
    claims = {"iss": key, "nbf": now - 10, "exp": now + 3600,
              "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()}
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing = f"{head}.{payload}".encode()
    sig = b64url(hmac.new(secret.encode(), signing, hashlib.sha256).digest())
    return f"{head}.{payload}.{sig}"


def lua(text):
    return "[==[" + text + "]==]"


print("requests = {")
for i in range(count):
    body = json.dumps({
        "event": "track_published", "id": f"EV_bench_{i}", "createdAt": str(int(time.time())),
        "room": {"sid": "RM_bench", "name": "bench"},
        "participant": {"sid": f"PA_{i % 50}", "identity": "bob", "state": "ACTIVE"},
        "track": {"sid": f"TR_{i}", "type": "AUDIO", "source": "MICROPHONE"},
    }, separators=(",", ":")).encode()
    print(f"  {{ body = {lua(body.decode())}, auth = {lua(token(body))} }},")
print("}")
