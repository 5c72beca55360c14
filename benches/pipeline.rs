//! Criterion benchmarks of the per-packet pipeline on real packet bytes, without EAL.
//! (Filled in by the benchmark work; see docs/PERFORMANCE.md.)

use criterion::{criterion_group, criterion_main, Criterion};

fn placeholder(_c: &mut Criterion) {}

criterion_group!(benches, placeholder);
criterion_main!(benches);
