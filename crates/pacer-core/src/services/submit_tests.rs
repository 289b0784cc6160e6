use super::*;
use serde_json::json;

fn errors(body: Value) -> Vec<FieldError> {
    match parse_submission(&body, CallbackPolicy::STRICT) {
        Err(SubmitError::Invalid(e)) => e,
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn fields(body: Value) -> Vec<String> {
    errors(body).into_iter().map(|e| e.field).collect()
}

#[test]
fn one_record_with_a_callback_url_parses() {
    let body = json!({"id": "r1", "provider": "acme", "request": {"path": "/x"},
                      "callback_url": "https://hooks.example.com/pacer"});
    let records = parse_submission(&body, CallbackPolicy::STRICT).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].callback_url.as_ref().map(CallbackUrl::as_str),
        Some("https://hooks.example.com/pacer")
    );
}

#[test]
fn every_bad_field_of_a_record_is_named() {
    let body = json!({"id": "a b", "provider": 7, "request": {"path": "/x"},
                      "callback_url": "http://hooks.example.com/", "colour": "red"});
    let mut got = fields(body);
    got.sort();
    assert_eq!(got, ["callback_url", "colour", "id", "provider"]);
}

#[test]
fn request_problems_name_the_request_field() {
    assert_eq!(
        fields(json!({"id": "a", "provider": "p", "request": {"path": "x"}})),
        ["request.path"]
    );
    assert_eq!(
        fields(json!({"id": "a", "provider": "p", "request": {"path": "/", "method": "TRACE"}})),
        ["request"]
    );
    assert_eq!(fields(json!({"id": "a", "provider": "p"})), ["request"]);
}

#[test]
fn batch_errors_carry_the_record_index_as_field_and_pointer() {
    let body = json!([
        {"id": "ok", "provider": "p", "request": {"path": "/"}},
        {"id": "ok", "provider": "p", "request": {"path": "/", "headers": {"Host": "x"}}},
        "nope",
        {"id": "ok", "provider": "p", "request": {"path": "/"}}
    ]);
    let e = errors(body);
    let got: Vec<(&str, &str)> = e
        .iter()
        .map(|e| (e.field.as_str(), e.pointer.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("[1].request.headers.Host", "/1/request/headers/Host"),
            ("[2]", "/2"),
            ("[3].id", "/3/id"),
        ]
    );
    assert!(e[2].problem.contains("[0]"), "{}", e[2].problem);
}

#[test]
fn callback_urls_to_inner_addresses_are_refused_before_any_lookup() {
    for url in [
        "https://127.0.0.1/",
        "https://10.0.0.1/",
        "https://169.254.169.254/",
        "https://localhost/",
    ] {
        let e = errors(json!({"id": "a", "provider": "p", "request": {"path": "/"},
                              "callback_url": url}));
        assert_eq!(e.len(), 1, "{url}");
        assert_eq!(e[0].field, "callback_url");
    }
}

#[test]
fn bodies_that_are_not_records_are_malformed() {
    for body in [
        json!([]),
        json!("x"),
        json!(3),
        Value::Array(vec![json!({}); MAX_BATCH + 1]),
    ] {
        assert!(
            matches!(
                parse_submission(&body, CallbackPolicy::STRICT),
                Err(SubmitError::Malformed { .. })
            ),
            "{body}"
        );
    }
}
