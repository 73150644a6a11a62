//! The webhook door over real HTTP on a loopback port. Requests are signed by the kit with
//! the `jsonwebtoken` 9 crate, independently of the host's verifier (the LiveKit API crate,
//! which uses `jsonwebtoken` 10 with its own HMAC provider).

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use jsonwebtoken::{encode, EncodingKey, Header};
use kit::host::TestHost;
use kit::store::read_store;
use kit::webhook::{now, post, post_signed, sign, sign_with};
use kit::{KEY, NODE, SECRET};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

fn webhook(event: &str, id: &str) -> Value {
    json!({
        "event": event,
        "id": id,
        "createdAt": "1764280000",
        "room": { "sid": "RM_abc", "name": "demo", "emptyTimeout": 300, "creationTime": "1764279990" },
        "participant": { "sid": "PA_xyz", "identity": "alice", "state": "ACTIVE", "joinedAt": "1764279995" },
        "track": { "sid": "TR_123", "type": "AUDIO", "source": "MICROPHONE", "name": "mic" },
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[tokio::test]
async fn every_mapped_webhook_is_stored_with_its_type() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    let cases = [
        ("room_started", "ROOM_CREATED"),
        ("room_finished", "ROOM_ENDED"),
        ("participant_joined", "PARTICIPANT_ACTIVE"),
        ("participant_left", "PARTICIPANT_LEFT"),
        (
            "participant_connection_aborted",
            "PARTICIPANT_CONNECTION_ABORTED",
        ),
        ("track_published", "TRACK_PUBLISHED"),
        ("track_unpublished", "TRACK_UNPUBLISHED"),
        ("egress_started", "EGRESS_STARTED"),
        ("egress_updated", "EGRESS_UPDATED"),
        ("egress_ended", "EGRESS_ENDED"),
        ("ingress_started", "INGRESS_STARTED"),
        ("ingress_ended", "INGRESS_ENDED"),
    ];
    for (i, (name, _)) in cases.iter().enumerate() {
        let mut body = webhook(name, &format!("EV_{i}"));
        if name.starts_with("egress") {
            body["egressInfo"] =
                json!({ "egressId": "EG_1", "roomId": "RM_abc", "status": "EGRESS_ACTIVE" });
        }
        if name.starts_with("ingress") {
            body["ingressInfo"] = json!({ "ingressId": "IN_1", "inputType": "RTMP_INPUT" });
        }
        let body = bytes(&body);
        assert_eq!(post_signed(&url, body).await, 200, "{name}");
    }
    let docs = host.wait_for("events", cases.len()).await;
    assert_eq!(docs.len(), cases.len());
    for (name, ty) in cases {
        let doc = docs
            .iter()
            .find(|d| d["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} for {name}: {docs:#?}"));
        assert_eq!(doc["room"]["sid"], "RM_abc");
        assert_eq!(doc["room_id"], "RM_abc");
        assert_eq!(doc["participant_id"], "PA_xyz");
        assert_eq!(doc["participant"]["identity"], "alice");
        assert_eq!(doc["track_id"], "TR_123");
        assert_eq!(doc["node_id"], NODE);
        // The default document format writes numbers as doubles, as the fork does.
        assert_eq!(doc["timestamp"]["seconds"], 1764280000.0);
        assert!(doc["openvidu_expire_at"].is_string());
        assert!(doc.get("webhook_raw").is_none());
        if name.starts_with("egress") {
            assert_eq!(doc["egress_id"], "EG_1");
            assert_eq!(doc["egress"]["status"], "EGRESS_ACTIVE");
        }
        if name.starts_with("ingress") {
            assert_eq!(doc["ingress_id"], "IN_1");
        }
    }
    assert_eq!(
        host.doors.counters.webhook_accepted.load(Ordering::Relaxed),
        12
    );
}

#[tokio::test]
async fn bearer_prefix_is_accepted_and_redelivery_keeps_the_id() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    let body = bytes(&webhook("track_published", "EV_same"));
    assert_eq!(post_signed(&url, body.clone()).await, 200);
    let bearer = format!("Bearer {}", sign(&body));
    assert_eq!(post(&url, body.clone(), Some(bearer)).await, 200);
    let docs = host.wait_for("events", 2).await;
    assert_eq!(docs.len(), 2, "the file store keeps both lines");
    assert_eq!(
        docs[0]["_id"], docs[1]["_id"],
        "a redelivery has the same _id"
    );
    // A different webhook of the same type in the same second is a different document.
    let other = bytes(&webhook("track_published", "EV_other"));
    assert_eq!(post_signed(&url, other).await, 200);
    let docs = host.wait_for("events", 3).await;
    assert_ne!(docs[2]["_id"], docs[0]["_id"]);
}

#[tokio::test]
async fn bad_credentials_get_401() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    let body = bytes(&webhook("room_started", "EV_1"));
    let t = now();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("garbage", Some("not.a.jwt".into())),
        (
            "wrong secret",
            Some(sign_with(
                &body,
                KEY,
                "another-secret-of-some-length",
                t - 10,
                t + 300,
            )),
        ),
        (
            "unknown key",
            Some(sign_with(&body, "otherkey", SECRET, t - 10, t + 300)),
        ),
        (
            "expired",
            Some(sign_with(&body, KEY, SECRET, t - 600, t - 300)),
        ),
        (
            "not yet valid",
            Some(sign_with(&body, KEY, SECRET, t + 300, t + 600)),
        ),
        (
            "tampered body",
            Some(sign(&bytes(&webhook("room_started", "EV_2")))),
        ),
    ];
    for (what, auth) in cases {
        assert_eq!(post(&url, body.clone(), auth).await, 401, "{what}");
    }
    // A token without a sha256 claim.
    let claims = json!({ "iss": KEY, "nbf": t - 10, "exp": t + 300 });
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        post(&url, body.clone(), Some(token)).await,
        401,
        "no sha256"
    );
    // The body changed by one byte after signing.
    let signed = sign(&body);
    let mut tampered = body.clone();
    let pos = tampered.iter().position(|b| *b == b'd').unwrap();
    tampered[pos] = b'D';
    assert_eq!(
        post(&url, tampered, Some(signed)).await,
        401,
        "one byte changed"
    );
    assert_eq!(
        host.doors
            .counters
            .webhook_unauthorized
            .load(Ordering::Relaxed),
        10
    );
    assert_eq!(
        host.doors.counters.webhook_accepted.load(Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn bodies_that_are_not_webhook_events_get_400() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    for body in [
        &b"not json"[..],
        b"[1,2]",
        b"\"text\"",
        b"{\"foo\": 1}",
        b"{}",
        b"\xff\xfe\x00",
    ] {
        assert_eq!(post_signed(&url, body.to_vec()).await, 400, "{body:?}");
    }
    // A signed body whose typed fields have the wrong JSON types and no event name.
    let body = br#"{"room": 5}"#;
    assert_eq!(post_signed(&url, body.to_vec()).await, 400);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    let mut body = webhook("room_started", "EV_big");
    body["room"]["metadata"] = json!("x".repeat(70_000));
    let body = bytes(&body);
    assert_eq!(post_signed(&url, body).await, 413);
    assert_eq!(
        host.doors
            .counters
            .webhook_too_large
            .load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn unknown_event_names_are_acknowledged_not_stored() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    let body = bytes(&webhook("room_migrated_to_mars", "EV_new"));
    assert_eq!(post_signed(&url, body).await, 200);
    let known = bytes(&webhook("room_started", "EV_known"));
    assert_eq!(post_signed(&url, known).await, 200);
    let docs = host.wait_for("events", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let docs_after = read_store(host.dir.path(), "events");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs_after.len(), 1);
    assert_eq!(docs[0]["type"], "ROOM_CREATED");
    assert_eq!(
        host.doors.counters.webhook_unknown.load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn newer_enum_values_and_fields_are_kept() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    let mut body = webhook("track_published", "EV_future");
    body["participant"]["state"] = json!("TELEPORTING");
    body["track"]["source"] = json!("HOLOGRAM");
    body["track"]["brandNewField"] = json!({ "x": 1 });
    body["someNewTopLevel"] = json!([1, 2, 3]);
    let body = bytes(&body);
    assert_eq!(post_signed(&url, body).await, 200);
    let docs = host.wait_for("events", 1).await;
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc["type"], "TRACK_PUBLISHED");
    assert_eq!(doc["participant_id"], "PA_xyz");
    assert_eq!(doc["participant"]["identity"], "alice");
    assert_eq!(doc["track_id"], "TR_123");
    assert_eq!(doc["track"]["name"], "mic");
    assert_eq!(doc["webhook_raw"]["track"]["source"], "HOLOGRAM");
    assert_eq!(doc["webhook_raw"]["participant"]["state"], "TELEPORTING");
    assert_eq!(
        host.doors.counters.webhook_lenient.load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_closed_host_answers_503() {
    let host = TestHost::start().await;
    let url = host.webhook_url();
    host.host.pipeline.close();
    let body = bytes(&webhook("room_started", "EV_late"));
    assert_eq!(post_signed(&url, body).await, 503);
    assert_eq!(
        host.doors
            .counters
            .webhook_unavailable
            .load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_full_queue_with_reject_answers_503() {
    let host = TestHost::start_undrained("{ capacity: 1, overflow: reject }").await;
    let url = host.webhook_url();
    let first = bytes(&webhook("room_started", "EV_a"));
    assert_eq!(post_signed(&url, first).await, 200);
    let second = bytes(&webhook("room_started", "EV_b"));
    assert_eq!(post_signed(&url, second).await, 503);
    assert_eq!(host.host.pipeline.queued(), 1);
}
