use super::*;
use async_trait::async_trait;
use std::collections::HashMap;

/// Answers from a fixed table; an unknown name does not resolve.
struct TableResolver(HashMap<&'static str, Vec<IpAddr>>);

#[async_trait]
impl HostResolver for TableResolver {
    async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        self.0
            .get(host)
            .cloned()
            .ok_or_else(|| ResolveError::NotFound {
                host: host.to_owned(),
            })
    }
}

fn resolver() -> TableResolver {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    TableResolver(HashMap::from([
        ("hooks.example.com", vec![ip("93.184.216.34")]),
        (
            "rebind.example.com",
            vec![ip("93.184.216.34"), ip("10.0.0.1")],
        ),
        ("meta.example.com", vec![ip("169.254.169.254")]),
        ("loop.example.com", vec![ip("127.0.0.1")]),
        ("empty.example.com", vec![]),
    ]))
}

fn url(text: &str) -> CallbackUrl {
    CallbackUrl::parse(text).unwrap()
}

fn kind_of(text: &str) -> Option<AddressKind> {
    classify_address(text.parse().unwrap())
}

#[test]
fn syntax_refuses_other_schemes_credentials_fragments_and_long_urls() {
    assert!(matches!(
        CallbackUrl::parse("ftp://example.com/x"),
        Err(CallbackUrlError::Scheme { .. })
    ));
    assert!(matches!(
        CallbackUrl::parse("https://user:pw@example.com/"),
        Err(CallbackUrlError::Credentials)
    ));
    assert!(matches!(
        CallbackUrl::parse("https://example.com/#x"),
        Err(CallbackUrlError::Fragment)
    ));
    assert!(matches!(
        CallbackUrl::parse("/relative"),
        Err(CallbackUrlError::NotAUrl { .. })
    ));
    let long = format!("https://example.com/{}", "a".repeat(MAX_CALLBACK_URL_LEN));
    assert!(matches!(
        CallbackUrl::parse(&long),
        Err(CallbackUrlError::TooLong { .. })
    ));
}

#[test]
fn classifies_the_ranges_an_ssrf_would_aim_at() {
    assert_eq!(kind_of("127.0.0.1"), Some(AddressKind::Loopback));
    assert_eq!(kind_of("10.0.0.1"), Some(AddressKind::Private));
    assert_eq!(kind_of("172.16.5.4"), Some(AddressKind::Private));
    assert_eq!(kind_of("192.168.1.1"), Some(AddressKind::Private));
    assert_eq!(kind_of("100.64.0.1"), Some(AddressKind::Private));
    assert_eq!(kind_of("169.254.169.254"), Some(AddressKind::Metadata));
    assert_eq!(kind_of("169.254.1.1"), Some(AddressKind::LinkLocal));
    assert_eq!(kind_of("0.0.0.0"), Some(AddressKind::Unspecified));
    assert_eq!(kind_of("255.255.255.255"), Some(AddressKind::Reserved));
    assert_eq!(kind_of("::1"), Some(AddressKind::Loopback));
    assert_eq!(kind_of("::ffff:127.0.0.1"), Some(AddressKind::Loopback));
    assert_eq!(kind_of("64:ff9b::a00:1"), Some(AddressKind::Private));
    assert_eq!(kind_of("2002:a9fe:a9fe::"), Some(AddressKind::Metadata));
    assert_eq!(kind_of("fd00:ec2::254"), Some(AddressKind::Metadata));
    assert_eq!(kind_of("fd12::1"), Some(AddressKind::Private));
    assert_eq!(kind_of("fe80::1"), Some(AddressKind::LinkLocal));
    assert_eq!(kind_of("93.184.216.34"), None);
    assert_eq!(kind_of("172.32.0.1"), None);
    assert_eq!(kind_of("2606:4700::1111"), None);
}

#[test]
fn odd_spellings_of_loopback_are_caught_after_normalisation() {
    for text in [
        "https://0x7f.1/",
        "https://2130706433/",
        "https://127.1/",
        "https://[::ffff:7f00:1]/",
    ] {
        let err = CallbackPolicy::STRICT.check_url(&url(text)).unwrap_err();
        assert!(
            matches!(
                err,
                CallbackUrlError::ForbiddenAddress {
                    kind: AddressKind::Loopback,
                    ..
                }
            ),
            "{text}: {err}"
        );
    }
}

#[test]
fn plain_http_and_localhost_need_the_local_testing_setting() {
    let http = url("http://hooks.example.com/");
    assert!(matches!(
        CallbackPolicy::STRICT.check_url(&http),
        Err(CallbackUrlError::PlainHttp)
    ));
    assert!(CallbackPolicy::LOCAL_TESTING.check_url(&http).is_ok());
    let local = url("https://LOCALHOST./hook");
    assert!(matches!(
        CallbackPolicy::STRICT.check_url(&local),
        Err(CallbackUrlError::LocalName { .. })
    ));
    assert!(CallbackPolicy::LOCAL_TESTING.check_url(&local).is_ok());
}

#[test]
fn local_testing_still_refuses_private_link_local_and_metadata_addresses() {
    for text in [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
    ] {
        assert!(
            CallbackPolicy::LOCAL_TESTING.check_url(&url(text)).is_err(),
            "{text}"
        );
    }
}

#[tokio::test]
async fn every_resolved_address_must_be_public() {
    let r = resolver();
    let strict = CallbackPolicy::STRICT;
    let ok = strict
        .check(&url("https://hooks.example.com/x"), &r)
        .await
        .unwrap();
    assert_eq!(ok, vec!["93.184.216.34".parse::<IpAddr>().unwrap()]);
    for (text, kind) in [
        ("https://rebind.example.com/", AddressKind::Private),
        ("https://meta.example.com/", AddressKind::Metadata),
        ("https://loop.example.com/", AddressKind::Loopback),
    ] {
        match strict.check(&url(text), &r).await {
            Err(CallbackUrlError::ForbiddenAddress { kind: k, .. }) => {
                assert_eq!(k, kind, "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    for text in ["https://nowhere.example.com/", "https://empty.example.com/"] {
        assert!(matches!(
            strict.check(&url(text), &r).await,
            Err(CallbackUrlError::Unresolvable { .. })
        ));
    }
}

#[test]
fn serde_round_trips_and_validates() {
    let u: CallbackUrl = serde_json::from_str("\"https://Hooks.Example.com:443/a\"").unwrap();
    assert_eq!(u.as_str(), "https://hooks.example.com/a");
    assert!(serde_json::from_str::<CallbackUrl>("\"gopher://x\"").is_err());
}
