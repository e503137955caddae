//! Where a storage's server is: the host messages name, and whether the connection to it
//! carries passwords and mail in clear text off this machine.

/// The host of an `http://` or `https://` URL (without brackets for IPv6), if it parses.
pub fn url_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.host()? {
        url::Host::Domain(domain) => Some(domain.to_owned()),
        url::Host::Ipv4(ip) => Some(ip.to_string()),
        url::Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls() {
        let table = [
            ("http://127.0.0.1:5232/", Some("127.0.0.1")),
            (
                "https://dav.example.org/remote.php/dav",
                Some("dav.example.org"),
            ),
            ("http://user@[::1]:8080/x", Some("::1")),
            ("not a url", None),
        ];
        for (url, host) in table {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }
}
