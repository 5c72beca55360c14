//! Every reason the data plane drops a packet, declared once: each is a counter, a metric
//! label and a line in the final report (VPP's `*_error.def` idea).

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal, $help:literal;)*) => {
        /// Why a packet was dropped. The discriminant indexes the counter array.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $($variant,)*
        }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();

            /// The counter's name (snake_case, stable: metrics and tests use it).
            pub const fn name(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }

            /// One line for operators.
            pub const fn help(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $help,)*
                }
            }
        }
    };
}

drop_reasons! {
    TxQueueFull => "tx_queue_full", "the port's TX queue had no room for the burst";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = HashSet::new();
        for r in DropReason::ALL {
            assert!(seen.insert(r.name()), "duplicate {}", r.name());
            assert!(r
                .name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
            assert!(!r.help().is_empty());
        }
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
