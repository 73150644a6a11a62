//! What LiveKit has live, asked of its server API: Twirp over HTTP (protobuf bodies), each
//! call signed with a short-lived token made from an API key of the configuration's `keys`.
//!
//! | what | call | token grant |
//! |---|---|---|
//! | rooms | `livekit.RoomService/ListRooms` | `roomList` |
//! | participants of a room | `livekit.RoomService/ListParticipants` | `roomAdmin` of that room |
//! | egresses | `livekit.Egress/ListEgress` with `active: true` | `roomRecord` |
//! | ingresses publishing | `livekit.Ingress/ListIngress` | `ingressAdmin` |

use crate::config::ApiKeys;
use anyhow::{anyhow, bail, Context};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use prost::Message;
use std::collections::BTreeSet;
use std::time::Duration;

/// Longest one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a token made for one call is valid.
const TOKEN_TTL: Duration = Duration::from_secs(60);

/// A client of LiveKit's server API.
#[derive(Clone)]
pub struct LiveKitApi {
    url: String,
    key: String,
    secret: String,
    http: reqwest::Client,
}

impl LiveKitApi {
    /// A client for the server at `url` (`http://host:port`), signing with the first of
    /// `keys`. An error when no key is configured.
    pub fn new(url: &str, keys: &ApiKeys) -> anyhow::Result<Self> {
        let (key, secret) = keys.0.iter().next().ok_or_else(|| {
            anyhow!("no LiveKit API key in `keys`: the fixer cannot ask LiveKit what is live")
        })?;
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .context("building the HTTP client for LiveKit's API")?;
        Ok(LiveKitApi {
            url: url.trim_end_matches('/').to_owned(),
            key: key.clone(),
            secret: secret.clone(),
            http,
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn call<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
        grants: VideoGrants,
    ) -> anyhow::Result<Resp> {
        let token = AccessToken::with_api_key(&self.key, &self.secret)
            .with_ttl(TOKEN_TTL)
            .with_grants(grants)
            .to_jwt()
            .context("signing a LiveKit API token")?;
        let url = format!("{}/twirp/{method}", self.url);
        let response = self
            .http
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .with_context(|| format!("LiveKit API {url} unreachable"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("LiveKit API {url}: reading the answer"))?;
        if !status.is_success() {
            bail!(
                "LiveKit API {url}: HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        Resp::decode(body).with_context(|| format!("LiveKit API {url}: undecodable answer"))
    }

    /// The rooms: `(sid, name)` of each.
    pub async fn rooms(&self) -> anyhow::Result<Vec<(String, String)>> {
        let grants = VideoGrants {
            room_list: true,
            ..Default::default()
        };
        let answer: proto::ListRoomsResponse = self
            .call(
                "livekit.RoomService/ListRooms",
                &proto::ListRoomsRequest::default(),
                grants,
            )
            .await?;
        Ok(answer.rooms.into_iter().map(|r| (r.sid, r.name)).collect())
    }

    /// The sids of the participants of every room LiveKit lists.
    pub async fn participants(&self) -> anyhow::Result<BTreeSet<String>> {
        let mut sids = BTreeSet::new();
        for (_, room) in self.rooms().await? {
            let grants = VideoGrants {
                room_admin: true,
                room: room.clone(),
                ..Default::default()
            };
            let request = proto::ListParticipantsRequest { room };
            let answer: proto::ListParticipantsResponse = self
                .call("livekit.RoomService/ListParticipants", &request, grants)
                .await?;
            sids.extend(answer.participants.into_iter().map(|p| p.sid));
        }
        Ok(sids)
    }

    /// The ids of the active egresses.
    pub async fn egresses(&self) -> anyhow::Result<BTreeSet<String>> {
        let grants = VideoGrants {
            room_record: true,
            ..Default::default()
        };
        let request = proto::ListEgressRequest {
            active: true,
            ..Default::default()
        };
        let answer: proto::ListEgressResponse = self
            .call("livekit.Egress/ListEgress", &request, grants)
            .await?;
        Ok(answer.items.into_iter().map(|e| e.egress_id).collect())
    }

    /// The resource ids of the ingresses publishing now.
    pub async fn ingresses(&self) -> anyhow::Result<BTreeSet<String>> {
        let grants = VideoGrants {
            ingress_admin: true,
            ..Default::default()
        };
        let answer: proto::ListIngressResponse = self
            .call(
                "livekit.Ingress/ListIngress",
                &proto::ListIngressRequest::default(),
                grants,
            )
            .await?;
        let publishing = proto::ingress_state::Status::EndpointPublishing as i32;
        Ok(answer
            .items
            .into_iter()
            .filter_map(|i| i.state)
            .filter(|s| s.status == publishing)
            .map(|s| s.resource_id)
            .collect())
    }
}
