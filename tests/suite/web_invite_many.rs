//! **Invite many** in the console and on Team: a file previewed row by row, then created,
//! its links shown once with an `email,link` download.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tether::domain::role::Role;

use crate::common::{sign_in, text, Api, Browser, Reply, TestApp, ACME, MSP};

crate::on_both_engines!(
    a_file_is_previewed_then_created_and_its_links_shown_once,
    a_client_admin_invites_many_from_team_within_their_ceiling,
    a_file_that_is_not_a_list_is_one_sentence_on_the_form,
);

/// Posts the invite-many form with `file` as the chosen file.
async fn post_list(
    api: &Api,
    browser: &Browser,
    host: &str,
    path: &str,
    fields: &[(&str, &str)],
    file: Option<&[u8]>,
) -> Reply {
    let boundary = "tether-test-boundary";
    let mut body = Vec::new();
    let mut all = vec![("csrf_token", browser.token.as_str())];
    all.extend_from_slice(fields);
    for (name, value) in all {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some(bytes) = file {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"staff.csv\"\r\nContent-Type: text/csv\r\n\r\n")
                .as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    api.send(
        Request::post(path)
            .header("host", host)
            .header("cookie", &browser.cookies)
            .header("sec-fetch-site", "same-origin")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// The value of the hidden `text` field the preview carries to the second step.
fn carried_list(reply: &Reply) -> String {
    let html = text(reply);
    let marker = "name=\"text\" value=\"";
    let start = html.find(marker).expect("the preview carries the list") + marker.len();
    let escaped = html[start..].split('"').next().unwrap();
    // Undoes HTML escaping: numeric character references and the named ones askama writes.
    let mut list = String::new();
    let mut rest = escaped;
    while let Some(at) = rest.find('&') {
        list.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("a character reference ends") + at;
        let entity = &rest[at + 1..end];
        let decoded = match entity.strip_prefix('#') {
            Some(number) => char::from_u32(number.parse().expect("a decimal reference")),
            None => match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                _ => None,
            },
        };
        list.push(decoded.expect("a known character reference"));
        rest = &rest[end + 1..];
    }
    list.push_str(rest);
    list
}

async fn a_file_is_previewed_then_created_and_its_links_shown_once(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    app.user("taken@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;
    let path = format!("/clients/{}/invite-many", acme.id.0);
    let clients = browser.get(&api, MSP, "/clients").await;
    assert!(text(&clients).contains(&format!("href=\"{path}\"")));
    let form = browser.get(&api, MSP, &path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(text(&form).contains("Invite many people to Acme Corp"));

    let file = "email,name,role\nana@acme.com,Ana <b>Ruiz</b>,client_admin\ntaken@acme.com,,\nbo@acme.com,Bo,\n";
    let preview = post_list(
        &api,
        &browser,
        MSP,
        &path,
        &[
            ("role_id", "4"),
            ("expires_hours", "72"),
            ("step", "preview"),
        ],
        Some(file.as_bytes()),
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", text(&preview));
    let words = text(&preview);
    assert!(words.contains("2 invites will be created"), "{words}");
    assert!(
        words.contains("Left out:</strong> An account with this email already exists."),
        "{words}"
    );
    assert!(words.contains("Create 2 invites"));
    let acme_invites = "SELECT COUNT(*) FROM invites WHERE email LIKE '%@acme.com'";
    assert_eq!(
        app.count(acme_invites).await,
        1,
        "the preview creates nothing"
    );
    assert_eq!(carried_list(&preview), file);

    let done = post_list(
        &api,
        &browser,
        MSP,
        &path,
        &[
            ("text", file),
            ("role_id", "4"),
            ("expires_hours", "72"),
            ("step", "create"),
        ],
        None,
    )
    .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", text(&done));
    assert_eq!(done.header("cache-control"), Some("no-store"));
    let words = text(&done);
    assert!(words.contains("2 invites were created"), "{words}");
    assert!(words.contains("Copy"));
    assert!(words.contains("value=\"https://acme.atechsolutions.org/invite/"));
    assert!(words.contains("download=\"invite-links.csv\""));
    assert!(words.contains("data:text/csv;charset=utf-8,email%2Clink%0D%0Aana%40acme%2Ecom%2Chttps%3A%2F%2Facme%2E"), "{words}");
    assert!(
        words.contains("<td>3</td><td>taken@acme.com</td>"),
        "the refused row keeps its line: {words}"
    );
    let created = app
        .count("SELECT COUNT(*) FROM invites WHERE email IN ('ana@acme.com', 'bo@acme.com') AND revoked_at IS NULL")
        .await;
    assert_eq!(created, 2);
    let ana_role: i64 =
        sqlx::query_scalar("SELECT role_id FROM invites WHERE email = 'ana@acme.com'")
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(ana_role, Role::ClientAdmin.id());
    // Names are escaped wherever they are shown.
    assert!(!words.contains("<b>Ruiz</b>") && !text(&preview).contains("<b>Ruiz</b>"));
}

async fn a_client_admin_invites_many_from_team_within_their_ceiling(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("boss@acme.com", &acme, Role::ClientAdmin).await;
    app.user("worker@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let boss = sign_in(&app, &api, ACME, "boss@acme.com").await;
    let team = boss.get(&api, ACME, "/team").await;
    assert!(text(&team).contains("href=\"/team/invite-many\""));
    let file = "email;role\nmate@acme.com;client_user\nchief@acme.com;msp_admin\n";
    let preview = post_list(
        &api,
        &boss,
        ACME,
        "/team/invite-many",
        &[("role_id", "4"), ("expires_hours", "24")],
        Some(file.as_bytes()),
    )
    .await;
    let words = text(&preview);
    assert!(words.contains("1 invite will be created"), "{words}");
    assert!(
        words.contains("Your role cannot give this role."),
        "{words}"
    );
    let done = post_list(
        &api,
        &boss,
        ACME,
        "/team/invite-many",
        &[
            ("text", file),
            ("role_id", "4"),
            ("expires_hours", "24"),
            ("step", "create"),
        ],
        None,
    )
    .await;
    assert_eq!(done.status, StatusCode::CREATED);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email = 'mate@acme.com'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email = 'chief@acme.com'")
            .await,
        0
    );

    // A client user has no Invite many.
    let worker = sign_in(&app, &api, ACME, "worker@acme.com").await;
    let refused = worker.get(&api, ACME, "/team/invite-many").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let posted = post_list(
        &api,
        &worker,
        ACME,
        "/team/invite-many",
        &[("text", file), ("step", "create")],
        None,
    )
    .await;
    assert_eq!(posted.status, StatusCode::FORBIDDEN);
}

async fn a_file_that_is_not_a_list_is_one_sentence_on_the_form(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;
    let path = format!("/clients/{}/invite-many", acme.id.0);
    let latin1 = post_list(
        &api,
        &browser,
        MSP,
        &path,
        &[("role_id", "4")],
        Some(b"email\nb\xF6rje@acme.com\n"),
    )
    .await;
    assert_eq!(latin1.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(&latin1).contains("The file is not UTF-8 text (line 2)"),
        "{}",
        text(&latin1)
    );
    let no_email = post_list(&api, &browser, MSP, &path, &[("text", "name\nAna\n")], None).await;
    assert_eq!(no_email.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&no_email).contains("one of them email"));
    let acme_invites = "SELECT COUNT(*) FROM invites WHERE email LIKE '%@acme.com'";
    assert_eq!(app.count(acme_invites).await, 0);
}
