//! The HTTP side of the API: a small blocking server on its own thread (pinned to the
//! management core, never a worker's), authentication and routing. It changes nothing
//! itself: each request becomes an `ApiOp` handed to the management loop, the tables'
//! single writer, and the answer comes back through a channel.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{bounded, Receiver, RecvTimeoutError, Sender};

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;
/// The bulk endpoints' limit: 100k entries of JSON lines are ~8 MiB.
const MAX_BULK_BODY: usize = 64 << 20;
/// How long a call may wait to be queued for the management loop (which answers calls as
/// they come).
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a queued call is waited for. A reload of a large file keeps the management thread
/// busy for seconds; an answer that gave up earlier would report a failure for a change that
/// is still made.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// A request, routed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiOp {
    Status,
    Ports,
    Workers,
    Stats,
    Metrics,
    ListVnis,
    GetVni(u32),
    AddVni(serde_json::Value),
    ReplaceVni(u32, serde_json::Value),
    /// `PATCH /vnis/{id}`: a JSON merge patch (RFC 7396) of the VNI's settings.
    PatchVni(u32, serde_json::Value),
    SetFlood(u32, serde_json::Value),
    SetAllowedVteps(u32, serde_json::Value),
    DeleteVni(u32),
    Flush {
        vni: u32,
        all: bool,
    },
    ListFdb {
        vni: Option<u32>,
    },
    AddFdb(serde_json::Value),
    /// `POST /fdb/bulk`: many static entries, all or none (parsed from JSON lines here, on
    /// the server's thread, not the management thread).
    AddFdbBulk(Vec<serde_json::Value>),
    DeleteFdb {
        vni: u32,
        mac: String,
    },
    ListArp {
        vni: Option<u32>,
    },
    AddArp(serde_json::Value),
    DeleteArp {
        vni: u32,
        ip: String,
    },
    Reload,
    Evpn,
    ListVrfs,
    ListRoutes {
        vrf: Option<String>,
    },
    Policy,
    ListSessions {
        limit: usize,
    },
}

/// An answer: status code, body, content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiReply {
    pub status: u16,
    pub body: String,
    pub content_type: &'static str,
}

impl ApiReply {
    pub fn json<T: serde::Serialize>(status: u16, value: &T) -> ApiReply {
        match serde_json::to_string_pretty(value) {
            Ok(body) => ApiReply {
                status,
                body: body + "\n",
                content_type: "application/json",
            },
            Err(e) => ApiReply::error(500, format!("encode answer: {e}")),
        }
    }

    pub fn error(status: u16, message: impl Into<String>) -> ApiReply {
        ApiReply::json(
            status,
            &super::model::ErrorBody {
                error: message.into(),
            },
        )
    }

    pub fn text(body: String) -> ApiReply {
        ApiReply {
            status: 200,
            body,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    pub fn empty(status: u16) -> ApiReply {
        ApiReply {
            status,
            body: String::new(),
            content_type: "application/json",
        }
    }
}

/// One request waiting for the management loop.
#[derive(Debug)]
pub struct ApiCall {
    pub op: ApiOp,
    pub reply: Sender<ApiReply>,
    /// Who asked, for the audit log: `api <peer address>` or `telemetry`.
    pub from: String,
}

/// The running server.
pub struct ApiServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub addr: SocketAddr,
}

/// The channel API calls reach the management loop through (HTTP and telemetry alike).
pub fn channel() -> (Sender<ApiCall>, Receiver<ApiCall>) {
    bounded(64)
}

/// Asks the management loop, on behalf of `from`, and waits for its answer.
pub fn ask(calls: &Sender<ApiCall>, op: ApiOp, from: String) -> ApiReply {
    let (tx, rx) = bounded(1);
    if calls
        .send_timeout(
            ApiCall {
                op,
                reply: tx,
                from,
            },
            QUEUE_TIMEOUT,
        )
        .is_err()
    {
        // Nothing was queued: nothing changes.
        return ApiReply::error(
            503,
            "vtepd is shutting down or too busy to take the request",
        );
    }
    match rx.recv_timeout(ANSWER_TIMEOUT) {
        Ok(reply) => reply,
        // The management loop dropped the call unanswered: it is stopping.
        Err(RecvTimeoutError::Disconnected) => ApiReply::error(503, "vtepd is shutting down"),
        Err(RecvTimeoutError::Timeout) => ApiReply::error(
            504,
            "the management thread did not answer in 300 s; the request is queued and may \
             still be applied",
        ),
    }
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl ApiServer {
    /// Binds `listen` and serves from a thread pinned to `cpu` (the management core), passing
    /// requests to `calls`.
    pub fn start(
        listen: SocketAddr,
        token: Option<String>,
        cpu: Option<usize>,
        calls: Sender<ApiCall>,
    ) -> std::io::Result<ApiServer> {
        let listener = nodelay_listener(listen)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{listen}: {e}")))?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| std::io::Error::other(format!("{listen}: {e}")))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("the API server has no IP address"))?;
        let server = Arc::new(server);
        let s = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("vtepd-api".into())
            .spawn(move || {
                if let Some(cpu) = cpu {
                    core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
                }
                serve(&s, token.as_deref(), &calls);
            })?;
        Ok(ApiServer {
            server,
            thread: Some(thread),
            addr,
        })
    }

    pub fn stop(mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A listening socket whose connections send at once (TCP_NODELAY, which Linux gives every
/// accepted connection from its listener). tiny_http writes the headers and a body over 1 KiB
/// separately; with Nagle's algorithm the body then waits for the client's delayed ACK of
/// the headers, 40 ms per call.
fn nodelay_listener(listen: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(listen),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&listen.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

fn serve(server: &tiny_http::Server, token: Option<&str>, calls: &Sender<ApiCall>) {
    for mut request in server.incoming_requests() {
        let reply = answer(&mut request, token, calls);
        // The whole body is in memory: always sent with its Content-Length. tiny_http would
        // chunk one over 32 KiB (the metrics) in pieces that Nagle's algorithm and the
        // client's delayed ACK hold back ~40 ms each.
        let mut response = tiny_http::Response::from_string(reply.body)
            .with_status_code(reply.status)
            .with_chunked_threshold(usize::MAX);
        if let Ok(h) =
            tiny_http::Header::from_bytes(&b"Content-Type"[..], reply.content_type.as_bytes())
        {
            response.add_header(h);
        }
        if reply.status == 401 {
            if let Ok(h) = tiny_http::Header::from_bytes(&b"WWW-Authenticate"[..], &b"Bearer"[..]) {
                response.add_header(h);
            }
        }
        let _ = request.respond(response);
    }
}

fn answer(
    request: &mut tiny_http::Request,
    token: Option<&str>,
    calls: &Sender<ApiCall>,
) -> ApiReply {
    if let Some(expected) = token {
        let given = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Authorization"))
            .map(|h| h.value.as_str().to_owned());
        let ok = given
            .as_deref()
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), expected.as_bytes()));
        if !ok {
            return ApiReply::error(
                401,
                "missing or wrong bearer token (Authorization: Bearer ...)",
            );
        }
    }
    let method = request.method().as_str().to_owned();
    let url = request.url().to_owned();
    let mut body = String::new();
    let max = if url.split('?').next() == Some("/api/v1/fdb/bulk") {
        MAX_BULK_BODY
    } else {
        MAX_BODY
    };
    let mut limited = request.as_reader().take(max as u64 + 1);
    if limited.read_to_string(&mut body).is_err() {
        return ApiReply::error(400, "the request body is not UTF-8");
    }
    if body.len() > max {
        return ApiReply::error(413, format!("request body larger than {max} bytes"));
    }
    let op = match route(&method, &url, &body) {
        Ok(op) => op,
        Err(reply) => return reply,
    };
    let from = request
        .remote_addr()
        .map_or_else(|| "api".to_owned(), |a| format!("api {a}"));
    ask(calls, op, from)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn json_body(body: &str) -> Result<serde_json::Value, ApiReply> {
    if body.trim().is_empty() {
        return Err(ApiReply::error(400, "this request needs a JSON body"));
    }
    serde_json::from_str(body)
        .map_err(|e| ApiReply::error(400, format!("the body is not valid JSON: {e}")))
}

/// A body of JSON lines (blank lines skipped), each one value.
fn json_lines(body: &str) -> Result<Vec<serde_json::Value>, ApiReply> {
    let mut out = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v = serde_json::from_str(line)
            .map_err(|e| ApiReply::error(400, format!("line {}: not valid JSON: {e}", i + 1)))?;
        out.push(v);
    }
    if out.is_empty() {
        return Err(ApiReply::error(
            400,
            "this request needs JSON lines, one entry each",
        ));
    }
    Ok(out)
}

fn vni_param(s: &str) -> Result<u32, ApiReply> {
    s.parse::<u32>()
        .ok()
        .filter(|v| (1..=0x00ff_ffff).contains(v))
        .ok_or_else(|| ApiReply::error(400, format!("vni: {s:?} is not a VNI (1..=16777215)")))
}

fn query_vni(query: Option<&str>) -> Result<Option<u32>, ApiReply> {
    let Some(q) = query else { return Ok(None) };
    let mut vni = None;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("vni", v)) => vni = Some(vni_param(v)?),
            _ => {
                let k = pair.split('=').next().unwrap_or(pair);
                return Err(ApiReply::error(
                    400,
                    format!("unknown query parameter {k:?} (only vni)"),
                ));
            }
        }
    }
    Ok(vni)
}

fn query_vrf(query: Option<&str>) -> Result<Option<String>, ApiReply> {
    let Some(q) = query else { return Ok(None) };
    let mut vrf = None;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("vrf", v)) if !v.is_empty() => vrf = Some(v.to_owned()),
            _ => {
                let k = pair.split('=').next().unwrap_or(pair);
                return Err(ApiReply::error(
                    400,
                    format!("unknown query parameter {k:?} (only vrf=NAME)"),
                ));
            }
        }
    }
    Ok(vrf)
}

/// Sessions `GET /api/v1/sessions` lists when `limit` is not given.
pub const DEFAULT_SESSION_LIMIT: usize = 1000;

/// `?limit=N` of `GET /api/v1/sessions`.
fn query_limit(query: Option<&str>) -> Result<usize, ApiReply> {
    let Some(q) = query else {
        return Ok(DEFAULT_SESSION_LIMIT);
    };
    let mut limit = DEFAULT_SESSION_LIMIT;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("limit", v)) => {
                limit = v.parse().map_err(|_| {
                    ApiReply::error(400, format!("limit={v:?} is not a number of sessions"))
                })?
            }
            _ => {
                let k = pair.split('=').next().unwrap_or(pair);
                return Err(ApiReply::error(
                    400,
                    format!("unknown query parameter {k:?} (only limit=N)"),
                ));
            }
        }
    }
    Ok(limit)
}

/// Whether `/api/v1/...` names a resource (with some method), for 405 versus 404.
fn known_path(rest: &[&str]) -> bool {
    matches!(
        rest,
        ["status"
            | "ports"
            | "workers"
            | "stats"
            | "reload"
            | "vnis"
            | "fdb"
            | "arp"
            | "evpn"
            | "vrfs"
            | "routes"
            | "policy"
            | "sessions"]
            | ["vnis", _]
            | ["vnis", _, "flood" | "allowed_vteps" | "flush"]
            | ["fdb" | "arp", _, _]
    )
}

/// Maps a method and URL to an operation, or to the 4xx answer explaining why not.
pub fn route(method: &str, url: &str, body: &str) -> Result<ApiOp, ApiReply> {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url, None),
    };
    let segments: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let not_allowed = || ApiReply::error(405, format!("{method} is not allowed on {path}"));
    match segments.as_slice() {
        ["metrics"] => match method {
            "GET" => Ok(ApiOp::Metrics),
            _ => Err(not_allowed()),
        },
        ["api", "v1", rest @ ..] => match (method, rest) {
            ("GET", ["status"]) => Ok(ApiOp::Status),
            ("GET", ["ports"]) => Ok(ApiOp::Ports),
            ("GET", ["workers"]) => Ok(ApiOp::Workers),
            ("GET", ["stats"]) => Ok(ApiOp::Stats),
            ("GET", ["evpn"]) => Ok(ApiOp::Evpn),
            ("GET", ["vrfs"]) => Ok(ApiOp::ListVrfs),
            ("GET", ["routes"]) => Ok(ApiOp::ListRoutes {
                vrf: query_vrf(query)?,
            }),
            ("GET", ["policy"]) => Ok(ApiOp::Policy),
            ("GET", ["sessions"]) => Ok(ApiOp::ListSessions {
                limit: query_limit(query)?,
            }),
            ("POST", ["reload"]) => Ok(ApiOp::Reload),
            ("GET", ["vnis"]) => Ok(ApiOp::ListVnis),
            ("POST", ["vnis"]) => Ok(ApiOp::AddVni(json_body(body)?)),
            ("GET", ["vnis", id]) => Ok(ApiOp::GetVni(vni_param(id)?)),
            ("PUT", ["vnis", id]) => Ok(ApiOp::ReplaceVni(vni_param(id)?, json_body(body)?)),
            ("PATCH", ["vnis", id]) => Ok(ApiOp::PatchVni(vni_param(id)?, json_body(body)?)),
            ("DELETE", ["vnis", id]) => Ok(ApiOp::DeleteVni(vni_param(id)?)),
            ("PUT", ["vnis", id, "flood"]) => Ok(ApiOp::SetFlood(vni_param(id)?, json_body(body)?)),
            ("PUT", ["vnis", id, "allowed_vteps"]) => {
                Ok(ApiOp::SetAllowedVteps(vni_param(id)?, json_body(body)?))
            }
            ("POST", ["vnis", id, "flush"]) => Ok(ApiOp::Flush {
                vni: vni_param(id)?,
                all: query.is_some_and(|q| q.split('&').any(|p| p == "all=true" || p == "all")),
            }),
            ("GET", ["fdb"]) => Ok(ApiOp::ListFdb {
                vni: query_vni(query)?,
            }),
            ("POST", ["fdb"]) => Ok(ApiOp::AddFdb(json_body(body)?)),
            ("POST", ["fdb", "bulk"]) => Ok(ApiOp::AddFdbBulk(json_lines(body)?)),
            ("DELETE", ["fdb", vni, mac]) => Ok(ApiOp::DeleteFdb {
                vni: vni_param(vni)?,
                mac: (*mac).to_owned(),
            }),
            ("GET", ["arp"]) => Ok(ApiOp::ListArp {
                vni: query_vni(query)?,
            }),
            ("POST", ["arp"]) => Ok(ApiOp::AddArp(json_body(body)?)),
            ("DELETE", ["arp", vni, ip]) => Ok(ApiOp::DeleteArp {
                vni: vni_param(vni)?,
                ip: (*ip).to_owned(),
            }),
            (_, path) if known_path(path) => Err(not_allowed()),
            _ => Err(ApiReply::error(404, format!("no such resource: {path}"))),
        },
        _ => Err(ApiReply::error(
            404,
            format!("no such resource: {path} (the API is under /api/v1)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/api/v1/vnis", ""), Ok(ApiOp::ListVnis));
        assert_eq!(
            route("GET", "/api/v1/vnis/5000/", ""),
            Ok(ApiOp::GetVni(5000))
        );
        assert_eq!(route("GET", "/metrics", ""), Ok(ApiOp::Metrics));
        assert_eq!(route("GET", "/api/v1/evpn", ""), Ok(ApiOp::Evpn));
        assert_eq!(route("GET", "/api/v1/vrfs", ""), Ok(ApiOp::ListVrfs));
        assert_eq!(
            route("GET", "/api/v1/routes?vrf=org-a", ""),
            Ok(ApiOp::ListRoutes {
                vrf: Some("org-a".into())
            })
        );
        assert_eq!(
            route("GET", "/api/v1/routes?vni=5", "").unwrap_err().status,
            400
        );
        assert_eq!(route("PUT", "/api/v1/vrfs", "").unwrap_err().status, 405);
        assert_eq!(route("POST", "/api/v1/evpn", "").unwrap_err().status, 405);
        assert_eq!(
            route("GET", "/api/v1/fdb?vni=7", ""),
            Ok(ApiOp::ListFdb { vni: Some(7) })
        );
        assert_eq!(
            route("DELETE", "/api/v1/fdb/7/02:00:00:00:00:01", ""),
            Ok(ApiOp::DeleteFdb {
                vni: 7,
                mac: "02:00:00:00:00:01".into()
            })
        );
        assert_eq!(
            route("POST", "/api/v1/vnis/7/flush?all=true", ""),
            Ok(ApiOp::Flush { vni: 7, all: true })
        );
        assert_eq!(
            route("POST", "/api/v1/vnis", "{\"id\": 7}"),
            Ok(ApiOp::AddVni(serde_json::json!({"id": 7})))
        );
    }

    #[test]
    fn bad_requests_say_why() {
        assert_eq!(route("GET", "/api/v2/vnis", "").unwrap_err().status, 404);
        assert_eq!(route("PATCH", "/api/v1/vnis", "").unwrap_err().status, 405);
        assert_eq!(
            route("GET", "/api/v1/vnis/5000/members", "")
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(
            route("GET", "/api/v1/fdb/5000", "").unwrap_err().status,
            404
        );
        assert_eq!(
            route("GET", "/api/v1/status/extra", "").unwrap_err().status,
            404
        );
        let r = route("GET", "/api/v1/vnis/abc", "").unwrap_err();
        assert_eq!(r.status, 400);
        assert!(
            r.body.contains(r#"vni: \"abc\" is not a VNI"#),
            "{}",
            r.body
        );
        assert_eq!(route("POST", "/api/v1/vnis", "").unwrap_err().status, 400);
        assert!(route("POST", "/api/v1/vnis", "{oops")
            .unwrap_err()
            .body
            .contains("not valid JSON"));
        assert!(route("GET", "/api/v1/fdb?vlan=3", "")
            .unwrap_err()
            .body
            .contains("unknown query parameter"));
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
