//! docs/PRODUCT.md § Who talks to it: an IdP may authenticate with an OAuth 2.0
//! access token got with client credentials (RFC 6749 §4.4).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use base64::Engine;
use serde_json::json;
use support::{App, Dir};

fn with_token(dir: &Dir, token: &str) -> Dir {
    Dir { id: dir.id.clone(), org: dir.org.clone(), base: dir.base.clone(), token: token.to_string() }
}

fn token_request(app: &App, dir: &Dir, headers: Vec<(String, String)>, form: &str) -> support::Resp {
    let mut h = vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string())];
    h.extend(headers);
    app.raw("POST", &format!("{}/oauth/token", dir.base), h, form.as_bytes().to_vec()).0
}

#[test]
fn a_client_gets_an_access_token_that_works_for_scim_until_the_client_is_deleted() {
    let app = App::new();
    let dir = app.new_directory("pingfederate");
    let c = app.admin("POST", &format!("/v1/directories/{}/tokens", dir.id), Some(json!({"type": "oauth_client"})));
    assert_eq!(c.status, 201, "{:?}", c.body);
    let (id, secret) = (c.body["client_id"].as_str().unwrap().to_string(), c.body["client_secret"].as_str().unwrap().to_string());
    assert!(c.body["token_url"].as_str().unwrap().ends_with("/oauth/token"));

    // Form credentials and HTTP Basic both work.
    let form = token_request(&app, &dir, vec![], &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"));
    assert_eq!(form.status, 200, "{:?}", form.body);
    assert_eq!(form.body["token_type"], "Bearer");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let via_basic = token_request(&app, &dir, vec![("authorization".into(), format!("Basic {basic}"))], "grant_type=client_credentials");
    assert_eq!(via_basic.status, 200);
    let access = form.body["access_token"].as_str().unwrap();

    let as_client = with_token(&dir, access);
    assert_eq!(app.scim(&as_client, "POST", "/Users", Some(json!({"userName": "p@x.io"}))).status, 201);
    assert_eq!(app.scim(&as_client, "GET", "/Users", None).body["totalResults"], 1);

    // The secret itself is not a bearer token, and the token is bound to its directory.
    assert_eq!(app.scim(&with_token(&dir, &secret), "GET", "/Users", None).status, 401);
    let other = app.new_directory("okta");
    assert_eq!(app.scim(&with_token(&other, access), "GET", "/Users", None).status, 401);

    // Expired tokens and deleted clients fail.
    app.advance(3_601_000);
    assert_eq!(app.scim(&as_client, "GET", "/Users", None).status, 401);
    let fresh = token_request(&app, &dir, vec![], &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"));
    let fresh_client = with_token(&dir, fresh.body["access_token"].as_str().unwrap());
    assert_eq!(app.scim(&fresh_client, "GET", "/Users", None).status, 200);
    assert_eq!(app.admin("DELETE", &format!("/v1/directories/{}/tokens/{id}", dir.id), None).status, 204);
    assert_eq!(app.scim(&fresh_client, "GET", "/Users", None).status, 401);
}

#[test]
fn bad_client_credentials_and_grants_are_oauth_errors() {
    let app = App::new();
    let dir = app.new_directory("cyberark");
    let c = app.admin("POST", &format!("/v1/directories/{}/tokens", dir.id), Some(json!({"type": "oauth_client"})));
    let id = c.body["client_id"].as_str().unwrap();
    let wrong = token_request(&app, &dir, vec![], &format!("grant_type=client_credentials&client_id={id}&client_secret=nope"));
    assert_eq!((wrong.status, wrong.body["error"].as_str()), (401, Some("invalid_client")));
    let grant = token_request(&app, &dir, vec![], "grant_type=password&username=a&password=b");
    assert_eq!((grant.status, grant.body["error"].as_str()), (400, Some("unsupported_grant_type")));
    assert_eq!(app.scim(&with_token(&dir, "rca_forged.token.1.AAAA"), "GET", "/Users", None).status, 401);
}
