//! Crafted traffic for black-box tests: runs the scapy scenario generators in tests/traffic/
//! and decodes vtepd's output. Owned by the pcap black-box tests.
