//! `outbound::check_url` and `outbound::allowed`: the guard in front of every call the platform
//! makes to a URL that a service or the operator supplied (issue 15, finding 1).
//!
//! Input: a selector byte (the allow-list: none, `127.0.0.0/8`, `10.0.0.0/8` and `::1/128`, or
//! `fc00::/7`), then either 4 or 16 bytes of an address (selector bit 7 set) or a URL as text.
//!
//! Properties: an accepted URL is `https`, or `http` to a literal address in the allow-list; it
//! has no user name or password; a literal host is a public address or in the allow-list; with
//! no allow-list no loopback, private, link-local, unique-local, unspecified or multicast address
//! is ever allowed, and an IPv4-mapped IPv6 address is judged as its IPv4 address.
#![no_main]
use iamsmart_domain::outbound::{allowed, check_url, OutboundPolicy};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn allow_list(selector: u8) -> Vec<ipnet::IpNet> {
    let nets: &[&str] = match selector % 4 {
        0 => &[],
        1 => &["127.0.0.0/8"],
        2 => &["10.0.0.0/8", "::1/128"],
        _ => &["fc00::/7"],
    };
    nets.iter().map(|n| n.parse().expect("net")).collect()
}

fn never_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[..6] == [0; 6]
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| never_public(IpAddr::V4(v4)))
        }
    }
}

fn check_address(ip: IpAddr, allow: &[ipnet::IpNet]) {
    let ok = allowed(ip, allow);
    if allow.iter().any(|n| n.contains(&ip)) {
        assert!(ok, "{ip} is in the allow-list");
    }
    if !ok {
        return;
    }
    if allow.is_empty() {
        assert!(!never_public(ip), "{ip} is not public");
    }
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            assert!(allowed(IpAddr::V4(v4), allow), "{ip} is judged as {v4}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let allow = allow_list(selector);
    if selector & 0x80 != 0 {
        match rest.len() {
            4 => check_address(
                IpAddr::V4(Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3])),
                &allow,
            ),
            16 => {
                let b: [u8; 16] = rest.try_into().expect("16 bytes");
                check_address(IpAddr::V6(Ipv6Addr::from(b)), &allow);
            }
            _ => {}
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let policy = OutboundPolicy {
        allow: allow.clone(),
        ..OutboundPolicy::default()
    };
    let Ok(url) = check_url(&policy, text) else {
        return;
    };
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{url}"
    );
    let host = url.host_str().expect("a host");
    // `localhost` is taken as the loopback address it always names.
    let literal = if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
    };
    if let Some(ip) = literal {
        assert!(allowed(ip, &allow), "{url}");
        if allow.is_empty() {
            assert!(!never_public(ip), "{url}");
        }
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let ip = literal.expect("plain http only to a literal address");
            assert!(allow.iter().any(|n| n.contains(&ip)), "{url}");
        }
        other => panic!("scheme {other} accepted: {url}"),
    }
    if allow.is_empty()
        || !allow
            .iter()
            .any(|n| n.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)))
    {
        assert!(!host.eq_ignore_ascii_case("localhost"), "{url}");
    }
});
