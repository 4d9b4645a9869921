//! margay-bench: benchmarks of margay against BIRD, GoBGP, FRR and `ip -batch`.
//! Each benchmark runs margay and the reference in the same invocation and reports ratios.

pub mod bgperf;
