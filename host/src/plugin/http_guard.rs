//! The outgoing-HTTP hook of a plugin granted `wasi:http`: requests pass only to the hosts
//! (or `host:port`s) listed in its `grants.http`.

use std::sync::Arc;

/// Lets outgoing HTTP requests through only to the granted hosts.
pub(super) struct HttpGuard {
    allow: Arc<[String]>,
}

impl HttpGuard {
    /// A guard letting requests through to `allow` only.
    pub(super) fn new(allow: &[String]) -> Self {
        HttpGuard {
            allow: allow.to_vec().into(),
        }
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        let with_port = port.map(|p| format!("{host}:{p}"));
        self.allow.iter().any(|a| {
            a.eq_ignore_ascii_case(host)
                || with_port
                    .as_deref()
                    .is_some_and(|hp| a.eq_ignore_ascii_case(hp))
        })
    }
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
            )>,
        > + Send,
>;

impl wasmtime_wasi_http::WasiHttpHooks for HttpGuard {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        if !self.allows(request.uri()) {
            tracing::warn!(uri = %request.uri(), "plugin HTTP request denied: host not in grants.http");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}
