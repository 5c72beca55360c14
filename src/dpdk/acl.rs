//! DPDK's packet classifier (librte_acl): a rule set compiled into a multi-bit trie that
//! classifies a key in a few dozen cycles with SIMD, whatever the number of rules.
//!
//! A context is built once (`AclContext::build`, on the management thread: building is
//! neither fast nor thread safe) and is immutable afterwards: `classify` only reads it, so one
//! context is shared by every worker (`Sync`) and replaced whole when the rules change.
//!
//! Rules are described field by field in host byte order; the keys handed to `classify` hold
//! the same fields in network byte order, at the offsets the `FieldDef`s give (DPDK's
//! convention: keys are packet bytes).

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::error::{DpdkError, Errno};

/// How a rule's field matches the key's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `value` with a prefix length `mask_range` in bits (addresses, segment ids).
    Prefix,
    /// `value..=mask_range` (ports).
    Range,
    /// `key & mask_range == value` (protocol).
    Bitmask,
}

impl FieldKind {
    fn raw(self) -> u8 {
        // RTE_ACL_FIELD_TYPE_MASK, _RANGE, _BITMASK: an anonymous enum bindgen does not emit.
        match self {
            FieldKind::Prefix => 0,
            FieldKind::Range => 1,
            FieldKind::Bitmask => 2,
        }
    }
}

/// One field of the key: its kind, size (1, 2 or 4 bytes), offset in the key, and the 4-byte
/// input word it is read in (DPDK reads the key a word at a time; the first field, one byte
/// long, is a word of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub kind: FieldKind,
    pub size: u8,
    pub offset: u32,
    pub input: u8,
}

/// One field of a rule, in host byte order: see `FieldKind` for what the two values mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldMatch {
    pub value: u32,
    pub mask_range: u32,
}

/// A rule over `N` fields. `userdata` is what `classify` returns for a key it matches
/// (non-zero: 0 means no rule matched); the highest `priority` wins among matching rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclRule<const N: usize> {
    pub priority: u32,
    pub userdata: u32,
    pub fields: [FieldMatch; N],
}

/// The highest priority a rule may have.
pub const MAX_PRIORITY: u32 = dpdk_sys::RTE_ACL_MAX_PRIORITY;

/// `struct rte_acl_rule` with its flexible field array fixed at `N` (DPDK's
/// `RTE_ACL_RULE_DEF(name, N)`).
#[repr(C)]
struct RawRule<const N: usize> {
    data: dpdk_sys::rte_acl_rule_data,
    field: [dpdk_sys::rte_acl_field; N],
}

/// Why a context could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AclError {
    #[error("a rule's userdata is 0 (reserved for no match)")]
    ZeroUserdata,
    #[error("a rule's priority {0} is outside 1..={MAX_PRIORITY}")]
    Priority(u32),
    #[error("{0} fields: rte_acl takes 1..={max}", max = dpdk_sys::RTE_ACL_MAX_FIELDS)]
    Fields(usize),
    #[error("{0} rules: more than the classifier takes")]
    TooMany(usize),
    #[error(transparent)]
    Dpdk(#[from] DpdkError),
}

/// A built classifier (see the module docs).
#[derive(Debug)]
pub struct AclContext {
    ctx: NonNull<dpdk_sys::rte_acl_ctx>,
    /// The key length the field definitions read up to: shorter keys are not classified.
    key_len: usize,
    rules: usize,
}

// SAFETY: a built context is never written again; rte_acl_classify only reads it and is
// documented as callable from several lcores at once. Drop (rte_acl_free) needs `&mut self`:
// the last owner, on whatever thread, frees it once.
unsafe impl Send for AclContext {}
// SAFETY: as above: `&AclContext` only classifies, which reads.
unsafe impl Sync for AclContext {}

/// Context names must be unique in the process (DPDK keeps them in a shared list).
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

impl AclContext {
    /// Compiles `rules` over the key layout `defs`. Needs EAL (DPDK's allocator).
    pub fn build<const N: usize>(
        label: &str,
        defs: &[FieldDef; N],
        rules: &[AclRule<N>],
    ) -> Result<AclContext, AclError> {
        if N == 0 || N > dpdk_sys::RTE_ACL_MAX_FIELDS as usize {
            return Err(AclError::Fields(N));
        }
        let mut raw = Vec::with_capacity(rules.len());
        for r in rules {
            if r.userdata == 0 {
                return Err(AclError::ZeroUserdata);
            }
            if !(1..=MAX_PRIORITY).contains(&r.priority) {
                return Err(AclError::Priority(r.priority));
            }
            raw.push(raw_rule(r));
        }
        let count = u32::try_from(raw.len()).map_err(|_| AclError::TooMany(raw.len()))?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // RTE_ACL_NAMESIZE is 32 with the NUL: the label is cut to fit.
        let mut name = format!("{label:.20}-{id}");
        name.truncate(dpdk_sys::RTE_ACL_NAMESIZE as usize - 1);
        let name = CString::new(name).unwrap_or_default();
        let param = dpdk_sys::rte_acl_param {
            name: name.as_ptr(),
            socket_id: -1, // SOCKET_ID_ANY
            rule_size: std::mem::size_of::<RawRule<N>>() as u32,
            // DPDK refuses a context for no rules; an empty set still needs one to classify.
            max_rule_num: count.max(1),
        };
        // SAFETY: `param` and the name it points to outlive the call, which copies the name.
        let ctx = unsafe { dpdk_sys::rte_acl_create(&param) };
        let ctx = NonNull::new(ctx).ok_or_else(|| DpdkError::last("rte_acl_create"))?;
        // Owned from here: any error below frees it.
        let built = AclContext {
            ctx,
            key_len: key_len(defs),
            rules: raw.len(),
        };
        if count > 0 {
            // SAFETY: `raw` holds `count` rules laid out as RTE_ACL_RULE_DEF(N), the size the
            // context was created with; DPDK copies them.
            let rc = unsafe {
                dpdk_sys::rte_acl_add_rules(
                    built.ctx.as_ptr(),
                    raw.as_ptr().cast::<dpdk_sys::rte_acl_rule>(),
                    count,
                )
            };
            if rc != 0 {
                return Err(DpdkError::new("rte_acl_add_rules", Errno(-rc)).into());
            }
        }
        let mut cfg = dpdk_sys::rte_acl_config {
            num_categories: 1,
            num_fields: N as u32,
            ..Default::default()
        };
        for (i, (slot, d)) in cfg.defs.iter_mut().zip(defs).enumerate() {
            *slot = dpdk_sys::rte_acl_field_def {
                type_: d.kind.raw(),
                size: d.size,
                field_index: i as u8,
                input_index: d.input,
                offset: d.offset,
            };
        }
        // SAFETY: the context is ours and not shared yet; `cfg` outlives the call.
        let rc = unsafe { dpdk_sys::rte_acl_build(built.ctx.as_ptr(), &cfg) };
        if rc != 0 {
            return Err(DpdkError::new("rte_acl_build", Errno(-rc)).into());
        }
        Ok(built)
    }

    /// The matching rule's userdata for `key`, or 0 when none matches (or the key is shorter
    /// than the layout).
    #[inline]
    pub fn classify(&self, key: &[u8]) -> u32 {
        if key.len() < self.key_len || self.rules == 0 {
            return 0;
        }
        let data = [key.as_ptr()];
        let mut result = [0u32; 1];
        // SAFETY: one key of at least `key_len` bytes (every field DPDK reads lies inside it),
        // one result slot for one category; the context is built and only read.
        let rc = unsafe {
            dpdk_sys::rte_acl_classify(
                self.ctx.as_ptr(),
                data.as_ptr().cast_mut(),
                result.as_mut_ptr(),
                1,
                1,
            )
        };
        if rc == 0 {
            result[0]
        } else {
            0
        }
    }

    pub fn rules(&self) -> usize {
        self.rules
    }
}

impl Drop for AclContext {
    fn drop(&mut self) {
        // SAFETY: the context was created by rte_acl_create and this is its only owner.
        unsafe { dpdk_sys::rte_acl_free(self.ctx.as_ptr()) };
    }
}

fn raw_rule<const N: usize>(r: &AclRule<N>) -> RawRule<N> {
    let mut field = [dpdk_sys::rte_acl_field::default(); N];
    for (f, m) in field.iter_mut().zip(&r.fields) {
        f.value.u32_ = m.value;
        f.mask_range.u32_ = m.mask_range;
    }
    RawRule {
        data: dpdk_sys::rte_acl_rule_data {
            category_mask: 1,
            priority: r.priority as i32,
            userdata: r.userdata,
        },
        field,
    }
}

fn key_len(defs: &[FieldDef]) -> usize {
    defs.iter()
        .map(|d| d.offset as usize + usize::from(d.size))
        .max()
        .unwrap_or(0)
        // DPDK's vector paths read whole 4-byte input words.
        .next_multiple_of(4)
}
