//! Network namespaces and veth pairs for tests that need real interfaces (kernel VXLAN
//! interop, ordered live traffic). Owned by the netns/interop tests.
