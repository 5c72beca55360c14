//! `[qos]`: 802.1p priority across the tunnel. The class-selector mapping (PCP p ↔ DSCP
//! CSp = 8·p, and a DSCP to its top three bits) is the default of each map, as RFC 4594's
//! class selectors and most switches' "trust" tables have it; operators override the values
//! their fabric treats differently (EF 46 to PCP 5 is the usual one).

use std::collections::BTreeMap;

use super::schema::{self, PriorityMap};
use super::validate::int;
use super::{ConfigError, QosConfig};

const CLASS_SELECTOR: &str = "class-selector";

/// The `[qos]` table.
pub(super) fn section(q: &schema::Qos) -> Result<QosConfig, ConfigError> {
    Ok(QosConfig {
        pcp_to_dscp: q
            .pcp_to_dscp
            .as_ref()
            .map(|m| map::<8>("qos.pcp_to_dscp", m, 63))
            .transpose()?,
        dscp_to_pcp: q
            .dscp_to_pcp
            .as_ref()
            .map(|m| map::<64>("qos.dscp_to_pcp", m, 7))
            .transpose()?,
    })
}

/// A map from 0..N to 0..=`max`: a value's class-selector image unless the file says
/// otherwise.
fn map<const N: usize>(key: &str, m: &PriorityMap, max: i64) -> Result<[u8; N], ConfigError> {
    let mut out = class_selector::<N>();
    match m {
        PriorityMap::Named(n) if n == CLASS_SELECTOR => {}
        PriorityMap::Named(n) => {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "{n:?} is not a known map: use \"{CLASS_SELECTOR}\", a list of {N} values \
                     or a table of exceptions"
                ),
            ))
        }
        PriorityMap::List(values) => {
            if values.len() != N {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "needs {N} values (one for each of 0..={}), got {}",
                        N - 1,
                        values.len()
                    ),
                ));
            }
            for (i, (slot, v)) in out.iter_mut().zip(values).enumerate() {
                *slot = int(&format!("{key}[{i}]"), *v, 0..=max)?;
            }
        }
        PriorityMap::Table(exceptions) => table(key, exceptions, max, &mut out)?,
    }
    Ok(out)
}

fn table<const N: usize>(
    key: &str,
    exceptions: &BTreeMap<String, i64>,
    max: i64,
    out: &mut [u8; N],
) -> Result<(), ConfigError> {
    for (from, to) in exceptions {
        let at = format!("{key}.{from}");
        let index = from
            .parse::<usize>()
            .ok()
            .filter(|i| *i < N)
            .ok_or_else(|| {
                ConfigError::invalid(&at, format!("{from:?} is not a number in 0..={}", N - 1))
            })?;
        if let Some(slot) = out.get_mut(index) {
            *slot = int(&at, *to, 0..=max)?;
        }
    }
    Ok(())
}

/// PCP p → CSp (8·p) when N is 8; DSCP d → its class (d / 8) when N is 64.
fn class_selector<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for (i, v) in out.iter_mut().enumerate() {
        *v = if N == 8 { (i * 8) as u8 } else { (i / 8) as u8 };
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, Mode, QosConfig};

    const BASE: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[vni]]
id = 5000
"#;

    fn qos(section: &str) -> Result<QosConfig, String> {
        match parse(&format!("{BASE}\n[qos]\n{section}")) {
            Ok(c) => match c.mode {
                Mode::Gateway(g) => Ok(g.qos),
                Mode::CrossConnect { .. } => unreachable!(),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn off_unless_configured() {
        let Mode::Gateway(g) = parse(BASE).unwrap().mode else {
            unreachable!()
        };
        assert_eq!(g.qos, QosConfig::default());
        assert_eq!(qos("").unwrap(), QosConfig::default());
    }

    #[test]
    fn class_selector_defaults_and_exceptions() {
        let q = qos("pcp_to_dscp = \"class-selector\"\ndscp_to_pcp = \"class-selector\"").unwrap();
        assert_eq!(q.pcp_to_dscp, Some([0, 8, 16, 24, 32, 40, 48, 56]));
        let back = q.dscp_to_pcp.unwrap();
        assert_eq!(
            (back[0], back[7], back[8], back[46], back[63]),
            (0, 0, 1, 5, 7)
        );

        let q =
            qos("pcp_to_dscp = [0, 10, 18, 26, 34, 46, 48, 56]\ndscp_to_pcp = { 46 = 6, 0 = 1 }")
                .unwrap();
        assert_eq!(q.pcp_to_dscp, Some([0, 10, 18, 26, 34, 46, 48, 56]));
        let back = q.dscp_to_pcp.unwrap();
        assert_eq!((back[0], back[26], back[46], back[47]), (1, 3, 6, 5));
        let q = qos("pcp_to_dscp = { 5 = 46 }").unwrap();
        assert_eq!(q.pcp_to_dscp, Some([0, 8, 16, 24, 32, 46, 48, 56]));
        assert_eq!(q.dscp_to_pcp, None, "each direction is its own key");
    }

    #[test]
    fn errors_name_the_key() {
        for (section, want) in [
            (
                "pcp_to_dscp = \"cs\"",
                "qos.pcp_to_dscp: \"cs\" is not a known map",
            ),
            (
                "pcp_to_dscp = [0, 8]",
                "qos.pcp_to_dscp: needs 8 values (one for each of 0..=7), got 2",
            ),
            (
                "pcp_to_dscp = [0, 8, 16, 24, 32, 64, 48, 56]",
                "qos.pcp_to_dscp[5]: 64 is out of range 0..=63",
            ),
            (
                "dscp_to_pcp = { 46 = 8 }",
                "qos.dscp_to_pcp.46: 8 is out of range 0..=7",
            ),
            (
                "dscp_to_pcp = { 64 = 1 }",
                "qos.dscp_to_pcp.64: \"64\" is not a number in 0..=63",
            ),
            (
                "dscp_to_pcp = { ef = 5 }",
                "qos.dscp_to_pcp.ef: \"ef\" is not a number in 0..=63",
            ),
        ] {
            let e = qos(section).unwrap_err();
            assert!(e.starts_with(want), "{section}: {e}");
        }
        let e = qos("trust = \"dscp\"").unwrap_err();
        assert!(e.contains("trust"), "{e}");
    }
}
