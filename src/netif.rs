//! Network interfaces for the hook payload (getifaddrs(3) through nix): name, one IPv4 and one IPv6
//! address each, in interface index order.
//!
//! Registers nothing.
