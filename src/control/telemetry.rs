//! vtepd's commands in DPDK telemetry (`dpdk-telemetry.py -f <file-prefix>`):
//!
//! | command | parameters | answer |
//! | --- | --- | --- |
//! | `/vtepd/stats` | | totals, every drop reason, table counters (flat) |
//! | `/vtepd/vni` | none, or a VNI | the VNI ids, or one VNI's settings and counters |
//! | `/vtepd/fdb` | none, or a VNI | MAC entries as "vni mac where type" lines |
//! | `/vtepd/ports` | | per port: driver counters and link |
//! | `/vtepd/workers` | | per worker: packets, bursts, cycles per packet |
//!
//! Each command asks the management loop through the API's channel, so telemetry and HTTP
//! answer from the same state.

use crossbeam::channel::Sender;
use serde_json::Value;

use crate::dpdk::{self, Eal, TelValue};

use super::api::{ask, ApiCall, ApiOp};

/// JSON as telemetry can carry it: nested objects are flattened into `/`-separated names
/// (telemetry keys allow only letters, digits, `_` and `/`).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, TelValue)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}/{k}")
                };
                flatten(&name, v, out);
            }
        }
        Value::Number(n) => out.push((prefix.to_owned(), number(n))),
        Value::Bool(b) => out.push((prefix.to_owned(), TelValue::U64(u64::from(*b)))),
        Value::String(s) => out.push((prefix.to_owned(), TelValue::Str(s.clone()))),
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_u64) => {
            let items = a.iter().filter_map(Value::as_u64).map(TelValue::U64);
            out.push((prefix.to_owned(), TelValue::List(items.collect())));
        }
        Value::Array(a) => {
            let text: Vec<String> = a
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect();
            out.push((prefix.to_owned(), TelValue::Str(text.join(","))));
        }
        Value::Null => {}
    }
}

/// A number as telemetry carries it: DPDK 22.11's telemetry has unsigned and 32-bit
/// integers but no floating point, so a fraction (cycles per packet, an average burst) is
/// rounded to the nearest integer; the API has it exact. Only what fits no integer (a
/// negative fraction) stays text.
fn number(n: &serde_json::Number) -> TelValue {
    if let Some(u) = n.as_u64() {
        return TelValue::U64(u);
    }
    match n.as_f64() {
        // `as` saturates: a float past u64::MAX is u64::MAX.
        Some(f) if f.is_finite() && f >= 0.0 => TelValue::U64(f.round() as u64),
        _ => TelValue::Str(n.to_string()),
    }
}

fn dict(v: &Value) -> TelValue {
    let mut out = Vec::new();
    flatten("", v, &mut out);
    TelValue::Dict(out)
}

fn call(calls: &Sender<ApiCall>, op: ApiOp) -> Result<Value, TelValue> {
    let reply = ask(calls, op, "telemetry".to_owned());
    let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    if reply.status >= 400 {
        let msg = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_owned();
        return Err(TelValue::Dict(vec![("error".into(), TelValue::Str(msg))]));
    }
    Ok(body)
}

fn stats(calls: &Sender<ApiCall>) -> TelValue {
    match call(calls, ApiOp::Stats) {
        Ok(mut v) => {
            // Per-port, per-worker and per-VNI lists have their own commands.
            if let Some(o) = v.as_object_mut() {
                o.remove("ports");
                o.remove("workers");
                if let Some(g) = o.get_mut("gateway").and_then(Value::as_object_mut) {
                    g.remove("vnis");
                }
            }
            dict(&v)
        }
        Err(e) => e,
    }
}

fn vni(calls: &Sender<ApiCall>, params: &str) -> TelValue {
    if params.trim().is_empty() {
        return match call(calls, ApiOp::ListVnis) {
            Ok(Value::Array(vnis)) => TelValue::List(
                vnis.iter()
                    .filter_map(|v| v["id"].as_u64())
                    .map(TelValue::U64)
                    .collect(),
            ),
            Ok(_) => TelValue::List(Vec::new()),
            Err(e) => e,
        };
    }
    match params.trim().parse::<u32>() {
        Ok(id) => match call(calls, ApiOp::GetVni(id)) {
            Ok(v) => dict(&v),
            Err(e) => e,
        },
        Err(_) => TelValue::Dict(vec![(
            "error".into(),
            TelValue::Str(format!("{params:?} is not a VNI")),
        )]),
    }
}

fn fdb(calls: &Sender<ApiCall>, params: &str) -> TelValue {
    let vni = match params.trim() {
        "" => None,
        p => match p.parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                return TelValue::Dict(vec![(
                    "error".into(),
                    TelValue::Str(format!("{p:?} is not a VNI")),
                )]);
            }
        },
    };
    match call(calls, ApiOp::ListFdb { vni }) {
        Ok(Value::Array(rows)) => TelValue::List(
            rows.iter()
                .map(|r| {
                    let place = r["port"]
                        .as_str()
                        .map(|p| format!("port {p}"))
                        .or_else(|| r["remote"].as_str().map(|v| format!("vtep {v}")))
                        .unwrap_or_default();
                    let kind = if r["static"].as_bool() == Some(true) {
                        "static"
                    } else {
                        "learned"
                    };
                    TelValue::Str(format!(
                        "{} {} {place} {kind}",
                        r["vni"],
                        r["mac"].as_str().unwrap_or("?")
                    ))
                })
                .collect(),
        ),
        Ok(_) => TelValue::List(Vec::new()),
        Err(e) => e,
    }
}

fn keyed(calls: &Sender<ApiCall>, op: ApiOp, key: &str) -> TelValue {
    match call(calls, op) {
        Ok(Value::Array(rows)) => TelValue::Dict(
            rows.iter()
                .map(|r| {
                    let name = r[key]
                        .as_str()
                        .map_or_else(|| r[key].to_string(), str::to_owned);
                    (name, dict(r))
                })
                .collect(),
        ),
        Ok(_) => TelValue::Dict(Vec::new()),
        Err(e) => e,
    }
}

/// Registers the commands; a failure is logged (telemetry may be disabled with
/// `--no-telemetry`), never fatal.
pub fn register(eal: &Eal, calls: &Sender<ApiCall>) {
    type Command = (
        &'static str,
        &'static str,
        Box<dyn Fn(&str) -> TelValue + Send + Sync>,
    );
    let commands: [Command; 5] = [
        (
            "/vtepd/stats",
            "vtepd totals, drops by reason and table counters.",
            {
                let c = calls.clone();
                Box::new(move |_| stats(&c))
            },
        ),
        (
            "/vtepd/vni",
            "vtepd VNIs; parameter: a VNI for its settings and counters.",
            {
                let c = calls.clone();
                Box::new(move |p| vni(&c, p))
            },
        ),
        (
            "/vtepd/fdb",
            "vtepd MAC table; parameter: a VNI (optional).",
            {
                let c = calls.clone();
                Box::new(move |p| fdb(&c, p))
            },
        ),
        ("/vtepd/ports", "vtepd ports with their counters.", {
            let c = calls.clone();
            Box::new(move |_| keyed(&c, ApiOp::Ports, "name"))
        }),
        ("/vtepd/workers", "vtepd workers with their counters.", {
            let c = calls.clone();
            Box::new(move |_| keyed(&c, ApiOp::Workers, "lcore"))
        }),
    ];
    for (cmd, help, handler) in commands {
        if let Err(e) = dpdk::register_telemetry(eal, cmd, help, handler) {
            tracing::warn!("telemetry: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_flatten_to_slashed_names() {
        let v = serde_json::json!({"totals": {"rx": 3}, "name": "x", "on": true, "list": ["a", "b"],
                                   "none": null, "cycles": 85.6, "ids": [5000, 5100], "neg": -1.5});
        let TelValue::Dict(d) = dict(&v) else {
            panic!()
        };
        assert!(d.contains(&("totals/rx".into(), TelValue::U64(3))));
        assert!(d.contains(&("name".into(), TelValue::Str("x".into()))));
        assert!(d.contains(&("on".into(), TelValue::U64(1))));
        assert!(d.contains(&("list".into(), TelValue::Str("a,b".into()))));
        assert!(d.contains(&("cycles".into(), TelValue::U64(86))), "{d:?}");
        assert!(d.contains(&(
            "ids".into(),
            TelValue::List(vec![TelValue::U64(5000), TelValue::U64(5100)])
        )));
        assert!(d.contains(&("neg".into(), TelValue::Str("-1.5".into()))));
        assert_eq!(d.len(), 7);
    }
}
